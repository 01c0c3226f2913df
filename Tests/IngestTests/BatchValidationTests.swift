import Foundation
import LedgerTesting
import MessageSchema
import Testing

@testable import Ingest
@testable import Ledger

/// Validating a batch on several threads gives each message exactly the result validating it alone gives, in
/// the same order: valid, invalid, null and empty values alike, in batches below and above the parallel bound.
@Suite struct BatchValidationTests {
    @Test(arguments: [
        BatchValidation.parallelBatchMessagesMin - 1, 3 * BatchValidation.parallelBatchMessagesMin + 7,
        BatchValidation.parallelBatchMessagesMin,
    ])
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
        let batch = BatchValidation(buffers)
        let parallel = (0..<messageCount).map { batch[$0] }
        for (index, value) in values.enumerated() {
            let alone = MessageValidator.validate(value)
            #expect(parallel[index].result == alone, "message \(index)")
            let accepted = parallel[index].accepted
            #expect(accepted?.contentDigest == (try? alone.get())?.contentDigest, "message \(index)'s digest")
            #expect(accepted?.orderKey.orderID == (try? alone.get())?.orderID, "message \(index)'s order_id")
            // Made on a worker, the order's hash is the one this thread makes: the seed is the process's.
            #expect(accepted?.orderKey.hash == (try? alone.get()).map { OrderKey($0.orderID).hash })
        }
        // The chunks the ingest loop prefetches by start where it asks, in order, and hold every message once.
        let again = BatchValidation(buffers)
        let chunked = (0..<messageCount).flatMap { again.chunk(startingAt: $0).map(Array.init) ?? [] }
        #expect(chunked.map(\.result) == parallel.map(\.result))
        #expect(
            parallel.contains { (try? $0.result.get()) != nil } && parallel.contains { (try? $0.result.get()) == nil })
    }

    /// A batch given up half way (an append threw) waits for its workers before the messages it borrows go away.
    @Test func aBatchGivenUpHalfWayWaitsForItsWorkers() {
        var generator = MessageGenerator(seed: 5, invalidRatio: 0.02, duplicateRatio: 0.01)
        let values = (0..<(8 * BatchValidation.parallelBatchMessagesMin)).map { _ in generator.next().value ?? [] }
        let buffers = values.map { bytes -> UnsafeMutableRawBufferPointer in
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
            copy.copyBytes(from: bytes)
            return copy
        }
        var batch: BatchValidation? = BatchValidation(buffers.map { UnsafeRawBufferPointer($0) })
        #expect(batch?[0].result == MessageValidator.validate(values[0]))
        batch = nil
        // Poisoned after the batch is gone: a worker still reading would now see garbage and validate it.
        for buffer in buffers { buffer.initializeMemory(as: UInt8.self, repeating: 0xFF) }
        for buffer in buffers { buffer.deallocate() }
    }
}
