import Foundation
import Logging
import OperatingErrors
import PostgresClient

/// How one batch ended, once it has: set by the worker that wrote it, awaited by the batch after it and by the
/// projection thread.
final class BatchCompletion: @unchecked Sendable {
    // @unchecked: `result` is only touched with `condition` locked.
    private let condition = NSCondition()
    private var result: Result<WarehouseLoader.Outcome, any Error>?

    func finish(_ result: Result<WarehouseLoader.Outcome, any Error>) {
        condition.lock()
        precondition(self.result == nil, "a batch finishes once")
        self.result = result
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks until the batch has finished, and says how.
    func wait() -> Result<WarehouseLoader.Outcome, any Error> {
        condition.lock()
        defer { condition.unlock() }
        while result == nil { condition.wait() }
        return result!
    }

    /// How the batch ended, waiting at most `milliseconds`; nil if it has not ended by then.
    func wait(atMostMilliseconds milliseconds: Int) -> Result<WarehouseLoader.Outcome, any Error>? {
        let deadline = Date(timeIntervalSinceNow: Double(milliseconds) / 1000)
        condition.lock()
        defer { condition.unlock() }
        while result == nil && condition.wait(until: deadline) {}
        return result
    }

    /// Blocks until the batch has finished; throws `.batchCancelled` unless it committed.
    func waitUntilCommitted() throws {
        if case .failure(let error) = wait() {
            throw ProjectorError(
                .batchCancelled, "the previous batch of this ledger did not commit", [("cause", "\(error)")])
        }
    }
}

/// One connection writing batches on a thread of its own. The thread owns the connection (and so its PGconn)
/// from start to `shutdown`; the projection thread only hands it jobs through the one-slot mailbox.
private final class LoadWorker: @unchecked Sendable {
    // @unchecked: `job` and `stopping` are only touched with `condition` locked; `loader` only by the thread.
    struct Job {
        let batch: ProjectionBatch
        let expectedCheckpoint: UInt64
        let predecessor: BatchCompletion?
        let completion: BatchCompletion
    }

    private let loader: WarehouseLoader
    private let condition = NSCondition()
    private var job: Job?
    private var stopping = false
    private let stopped = DispatchSemaphore(value: 0)

    init(loader: WarehouseLoader, name: String) {
        self.loader = loader
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    func submit(_ job: Job) {
        condition.lock()
        precondition(self.job == nil && !stopping, "a worker takes one job at a time, until it stops")
        self.job = job
        condition.broadcast()
        condition.unlock()
    }

    /// Lets the current job finish, then ends the thread (which releases the connection).
    func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        stopped.wait()
    }

    private func run() {
        while let job = takeJob() {
            job.completion.finish(
                Result {
                    try loader.write(
                        job.batch, expectedCheckpoint: job.expectedCheckpoint, predecessor: job.predecessor)
                })
        }
        stopped.signal()
    }

    /// The next job, taken out of the mailbox (so the slot is free again before the job's completion is
    /// announced), or nil once stopping with nothing left.
    private func takeJob() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while job == nil && !stopping { condition.wait() }
        defer { job = nil }
        return job
    }
}

/// Batches written on `ProjectorLimits.loadConnections` connections at once, committed in order per ledger.
///
/// Why two and not more: a batch may wait inside PostgreSQL for another ledger's uncommitted key (a
/// cross-ledger duplicate), and waits in this process for its own ledger's previous batch. With two batches in
/// flight, a wait of each kind between the same two batches would need them to be of the same ledger (process
/// wait) and of different ledgers (key wait) at once, so no cycle, no deadlock.
final class LoadPipeline {
    private let workers: [LoadWorker]
    private var inFlight: [(batch: ProjectionBatch, completion: BatchCompletion)] = []
    private var nextWorker = 0

    /// Opens the connections; `settings` run on each first (e.g. `SET synchronous_commit TO off`).
    init(postgres url: String, schema: WarehouseSchema, applicationName: String, settings: [String], logger: Logger)
        throws
    {
        workers = try (0..<ProjectorLimits.loadConnections).map { index in
            let connection = try PostgresConnection(url: url, applicationName: applicationName)
            for setting in settings { try connection.execute(setting) }
            return LoadWorker(
                loader: try WarehouseLoader(connection: connection, schema: schema, logger: logger),
                name: "\(applicationName) loader \(index)")
        }
    }

    deinit { for worker in workers { worker.shutdown() } }

    var isFull: Bool { inFlight.count == workers.count }
    var isEmpty: Bool { inFlight.isEmpty }

    /// Hands `batch` to the next worker. The caller awaits the oldest batch first when the pipeline is full.
    func submit(_ batch: ProjectionBatch, expectedCheckpoint: UInt64, predecessor: BatchCompletion?) -> BatchCompletion
    {
        precondition(!isFull, "await the oldest batch before submitting another")
        let completion = BatchCompletion()
        workers[nextWorker].submit(
            LoadWorker.Job(
                batch: batch, expectedCheckpoint: expectedCheckpoint, predecessor: predecessor, completion: completion))
        nextWorker = (nextWorker + 1) % workers.count
        inFlight.append((batch, completion))
        return completion
    }

    /// Waits for the oldest batch in flight (they finish in submission order per worker, and the workers take
    /// turns, so the oldest is also the next worker's).
    func awaitOldest() -> (batch: ProjectionBatch, result: Result<WarehouseLoader.Outcome, any Error>) {
        precondition(!inFlight.isEmpty, "a batch is in flight")
        let oldest = inFlight.removeFirst()
        return (oldest.batch, oldest.completion.wait())
    }

    /// As `awaitOldest`, but waits at most `milliseconds`: nil (and the batch stays in flight) if it has not
    /// finished by then.
    func awaitOldest(atMostMilliseconds milliseconds: Int) -> (
        batch: ProjectionBatch, result: Result<WarehouseLoader.Outcome, any Error>
    )? {
        precondition(!inFlight.isEmpty, "a batch is in flight")
        guard let result = inFlight[0].completion.wait(atMostMilliseconds: milliseconds) else { return nil }
        return (inFlight.removeFirst().batch, result)
    }
}
