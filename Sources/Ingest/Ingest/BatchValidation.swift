import Foundation
import Ledger
import MessageSchema

/// Validates (and digests, `ValidatedMessage`) a batch of message values on every core, in chunks, before they are appended one by one. Validation
/// (JSON scanning, field checks) is the largest part of ingest's work that depends on nothing but the message;
/// the append after it must stay sequential (it classifies against the orders appended before). Consuming a
/// backlog, the ingest thread was the bottleneck with the second core half idle; validating in parallel took
/// ingest from ~360k to ~380k msgs/s (four runs each, same machine).
enum BatchValidation {
    /// Below this many messages a batch is validated on the calling thread: waking another thread costs more than
    /// it saves, and small batches are the low-latency case.
    static let parallelBatchMessagesMin = 1_024

    /// Chunks per core: small chunks let a core that librdkafka or the broker also uses take fewer of them,
    /// instead of the ingest thread waiting for the busier core's half.
    static let chunksPerCore = 8

    static func validate(_ values: [UnsafeRawBufferPointer?]) -> [ValidatedMessage] {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard values.count >= parallelBatchMessagesMin, cores > 1 else { return values.map(LedgerAppender.validate) }
        let chunks = cores * chunksPerCore
        return Array(unsafeUninitializedCapacity: values.count) { output, initialized in
            // Each chunk initializes a disjoint range of `output`; concurrentPerform returns after every chunk.
            nonisolated(unsafe) let output = output
            nonisolated(unsafe) let values = values
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                for index in chunkRange(chunk, of: chunks, count: values.count) {
                    (output.baseAddress! + index).initialize(to: LedgerAppender.validate(values[index]))
                }
            }
            initialized = values.count
        }
    }

    private static func chunkRange(_ chunk: Int, of chunks: Int, count: Int) -> Range<Int> {
        (count * chunk / chunks)..<(count * (chunk + 1) / chunks)
    }
}
