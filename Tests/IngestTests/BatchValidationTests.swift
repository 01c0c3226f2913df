import Foundation
import LedgerTesting
import MessageSchema
import Testing

@testable import Ingest
@testable import Ledger

/// Validating a batch on several threads gives each message exactly the result validating it alone gives, in
/// the same order: valid, invalid, null and empty values alike, in batches below and above the parallel bound.
@Suite struct BatchValidationTests {
    @Test(arguments: [BatchValidation.parallelBatchMessagesMin - 1, 3 * BatchValidation.parallelBatchMessagesMin + 7])
    func parallelValidationEqualsValidatingEachMessage(messageCount: Int) {
        var generator = MessageGenerator(seed: 17, invalidRatio: 0.3, duplicateRatio: 0.1)
        var values: [[UInt8]?] = (0..<messageCount).map { _ in generator.next().value }
        values[0] = nil
        values[messageCount / 2] = []
        let buffers = values.map {
            $0.map { bytes -> UnsafeRawBufferPointer in
                let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
                copy.copyBytes(from: bytes)
                return UnsafeRawBufferPointer(copy)
            }
        }
        defer { for buffer in buffers { buffer.map { UnsafeMutableRawBufferPointer(mutating: $0).deallocate() } } }
        let parallel = BatchValidation.validate(buffers)
        #expect(parallel.count == messageCount)
        for (index, value) in values.enumerated() {
            let alone = MessageValidator.validate(value)
            #expect(parallel[index].result == alone, "message \(index)")
            #expect(parallel[index].contentDigest == (try? alone.get())?.contentDigest, "message \(index)'s digest")
        }
        #expect(
            parallel.contains { (try? $0.result.get()) != nil } && parallel.contains { (try? $0.result.get()) == nil })
    }
}
