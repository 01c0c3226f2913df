import Foundation
import Logging

/// Copies the index's write-ahead log into the database file from a thread and a connection of its own
/// (`PRAGMA wal_checkpoint(PASSIVE)` every `LedgerIndex.checkpointIntervalMilliseconds`).
///
/// Why: SQLite's automatic checkpoint runs inside the commit that crosses its threshold, on the writer's thread.
/// With the order index rewriting thousands of pages per batch, that was a stall of a few hundred milliseconds
/// every few seconds, in the middle of ledger-ingest's produce → durable latency. A passive checkpoint never waits
/// for the writer, and the writer never waits for it. The writer keeps a far higher automatic threshold
/// (`LedgerIndex.checkpointBackstopPages`) in case this thread falls behind.
final class IndexCheckpointer: @unchecked Sendable {
    private let path: String
    private let logger: Logger
    private let condition = NSCondition()
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    init(path: String, logger: Logger) {
        self.path = path
        self.logger = logger
        Thread { [self] in run() }.start()
    }

    /// Asks the thread to stop and waits until it closed its connection.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        finished.wait()
    }

    private func run() {
        defer { finished.signal() }
        let database: SQLiteDatabase
        do {
            database = try SQLiteDatabase(path: path)
        } catch {
            logger.error(
                "ledger.index.checkpointer_failed", metadata: ["ledger.path": "\(path)", "ledger.error": "\(error)"])
            return
        }
        while waitForNextRound() {
            do {
                try database.execute("PRAGMA wal_checkpoint(PASSIVE)")
            } catch {
                logger.warning(
                    "ledger.index.checkpoint_failed", metadata: ["ledger.path": "\(path)", "ledger.error": "\(error)"])
            }
        }
    }

    /// Sleeps one interval; false once a stop was asked for.
    private func waitForNextRound() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if !stopping {
            _ = condition.wait(
                until: Date(timeIntervalSinceNow: Double(LedgerIndex.checkpointIntervalMilliseconds) / 1000))
        }
        return !stopping
    }
}
