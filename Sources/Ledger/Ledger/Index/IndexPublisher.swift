import Foundation
import Synchronization

/// Publishes the writer's index batches from a serial dispatch queue and a SQLite connection of its own, one at a
/// time and in the order submitted, for a writer opened with `LedgerOptions.publishesIndexInBackground` (ledger-ingest).
///
/// Why: a commit's SQLite transaction (its frames, watermarks, counts and durable LSN, with a slice of the order
/// batch) was 7.6 % of ledger-ingest's thread on the mix, and the thread did nothing else meanwhile (perf
/// --call-graph dwarf, 2026-12-08); without the order inserts, paired runs took 6 % less time (6 of 8 pairs).
/// Nothing the ledger promises waits for the index: a batch is handed over only once its segment bytes are
/// fsynced, and the index is a cache of the segments. A crash before the batch is published leaves the index
/// behind the segments, and recovery publishes the intact frames, as after a crash between fsync and publish.
///
/// Failure: once a batch fails, no later one is published (the index would describe frames whose predecessors it
/// lacks), and `waitUntilPublished` throws the failure: the writer then fails, as when it published on its own
/// thread.
final class IndexPublisher: @unchecked Sendable {
    /// Used only on `queue` (hence `@unchecked Sendable`).
    private let index: LedgerIndex
    private let queue = DispatchQueue(label: "pulse.ledger.index-publisher")
    private let pending = DispatchGroup()
    private let failure = Mutex<LedgerError?>(nil)

    /// Opens a connection of its own to the index at `path`; the caller's connection must not write any more.
    init(path: String) throws {
        index = try LedgerIndex(path: path)
    }

    /// Publishes `batch` after every batch submitted before it; returns at once.
    func submit(_ batch: IndexBatch) {
        pending.enter()
        queue.async { [self] in
            defer { pending.leave() }
            guard failure.withLock({ $0 == nil }) else { return }
            do {
                try index.publish(batch)
            } catch {
                failure.withLock { $0 = Self.ledgerError(error, batch) }
            }
        }
    }

    /// SQLite's errors are `LedgerError`s already; anything else is wrapped with the batch it stopped.
    private static func ledgerError(_ error: any Error, _ batch: IndexBatch) -> LedgerError {
        error as? LedgerError
            ?? LedgerError(
                .index, "publishing an index batch failed",
                [("durable_lsn", String(batch.durableLSN)), ("cause", "\(error)")])
    }

    /// Waits until every batch submitted is published; throws the failure that stopped publishing, if any.
    func waitUntilPublished() throws {
        pending.wait()
        if let failed = failure.withLock({ $0 }) { throw failed }
    }
}
