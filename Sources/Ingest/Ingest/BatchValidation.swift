import Foundation
import Ledger
import MessageSchema

/// Validates (and digests, `ValidatedMessage`) a consumed batch on the other cores while the ingest thread appends
/// it, chunk by chunk: `self[index]` waits only until the chunk holding `index` is done. Validation (JSON
/// scanning, field checks, the content digest) depends on nothing but the message; the append must stay
/// sequential (it classifies against the orders appended before it), so the two overlap.
///
/// Why a pipeline and not validate-then-append: the ingest thread is ingest's bound. When it validated its share
/// of each batch and then waited for the other core's (`concurrentPerform`), validation was 31 % of its time
/// (`perf` of a 300k-message backlog of the mix, 2026-12-06).
///
/// The values are borrowed (librdkafka's message buffers): the batch must not outlive them, and it does not
/// return from `deinit` before every chunk is done, so a batch abandoned half way (an append threw) leaves no
/// thread reading freed messages.
final class BatchValidation {
    /// Below this many messages a batch is validated on the calling thread: waking another thread costs more than
    /// it saves, and small batches are the low-latency case.
    static let parallelBatchMessagesMin = 1_024
    /// Messages per chunk handed to a worker: small enough that the first appends start soon and a busy core
    /// takes fewer chunks, large enough that dispatching one costs little beside validating it (~1 µs each).
    static let chunkMessages = 256

    private let results: UnsafeMutableBufferPointer<ValidatedMessage>
    /// One per chunk after the first (which the ingest thread validates itself), signalled once it is done.
    private let chunksDone: [DispatchSemaphore]
    /// Chunks whose semaphore was waited for (in order): `deinit` waits for the rest.
    private var chunksAwaited = 1

    init(_ values: [UnsafeRawBufferPointer?], unknownFields: UnknownFieldPolicy = .reject) {
        results = .allocate(capacity: values.count)
        let chunkCount = Self.chunkCount(values.count)
        chunksDone = (1..<chunkCount).map { _ in DispatchSemaphore(value: 0) }
        // Each chunk initializes a disjoint range of `results`, read only after its semaphore was waited for.
        nonisolated(unsafe) let output = results
        nonisolated(unsafe) let values = values
        for chunk in 1..<chunkCount {
            let done = chunksDone[chunk - 1]
            DispatchQueue.global().async {
                Self.validate(values, Self.range(chunk, chunkCount, values.count), unknownFields, into: output)
                done.signal()
            }
        }
        Self.validate(values, Self.range(0, chunkCount, values.count), unknownFields, into: results)
    }

    var count: Int { results.count }

    /// The validation of message `index`; waits for its chunk. Indices are asked in increasing order.
    subscript(index: Int) -> ValidatedMessage {
        waitForChunk(chunkNumber(containing: index))
        return results[index]
    }

    /// The validations of the chunk that starts at `index`, once done (waiting for it, like the subscript), or nil
    /// when no chunk starts there.
    func chunk(startingAt index: Int) -> UnsafeBufferPointer<ValidatedMessage>? {
        let number = chunkNumber(containing: index)
        let range = Self.range(number, chunkCount, count)
        guard range.lowerBound == index, !range.isEmpty else { return nil }
        waitForChunk(number)
        return UnsafeBufferPointer(rebasing: results[range])
    }

    /// Chunks in the batch: the ingest thread's own first chunk and one per semaphore.
    private var chunkCount: Int { chunksDone.count + 1 }

    /// A batch validated in one piece is one chunk; otherwise chunk k holds messages from k × chunkMessages.
    private func chunkNumber(containing index: Int) -> Int {
        chunkCount == 1 ? 0 : index / Self.chunkMessages
    }

    /// Waits until chunk `number` (and every chunk before it) is validated.
    private func waitForChunk(_ number: Int) {
        while chunksAwaited <= number {
            chunksDone[chunksAwaited - 1].wait()
            chunksAwaited += 1
        }
    }

    deinit {
        for chunk in chunksAwaited..<chunkCount { chunksDone[chunk - 1].wait() }
        _ = results.deinitialize()
        results.deallocate()
    }

    private static func validate(
        _ values: [UnsafeRawBufferPointer?], _ range: Range<Int>, _ unknownFields: UnknownFieldPolicy,
        into output: UnsafeMutableBufferPointer<ValidatedMessage>
    ) {
        for index in range {
            (output.baseAddress! + index).initialize(
                to: LedgerAppender.validate(values[index], unknownFields: unknownFields))
        }
    }

    /// One chunk (the calling thread's) for a small batch, else one per `chunkMessages`; at least one.
    private static func chunkCount(_ messages: Int) -> Int {
        messages < parallelBatchMessagesMin ? 1 : (messages + chunkMessages - 1) / chunkMessages
    }

    private static func range(_ chunk: Int, _ chunks: Int, _ messages: Int) -> Range<Int> {
        chunks == 1 ? 0..<messages : (chunk * chunkMessages)..<min(messages, (chunk + 1) * chunkMessages)
    }
}
