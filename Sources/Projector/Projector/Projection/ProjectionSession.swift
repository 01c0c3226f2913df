import Foundation
import Ledger
import Logging
import OperatingErrors
import PostgresClient

/// Everything needed to project into one warehouse schema: a control connection (migrations, partitions,
/// checkpoints, the ledgers' advisory locks) and the load pipeline (`ProjectorLimits.loadConnections` more
/// connections writing batches). Synchronous; driven by one thread, the follow loop's or the rebuild's.
final class ProjectionSession {
    let connection: PostgresConnection
    let schema: WarehouseSchema
    let partitions: PartitionManager
    /// The newest `amount_above` fraud rule when the session started (what the projector reports at start);
    /// each batch applies the versions in force at its rows' times (`RateBook`, read before each batch).
    let rule: AmountRule
    private let pipeline: LoadPipeline
    private let logger: Logger
    /// Which ledger each batch in flight came from, oldest first.
    private var inFlightSources: [LedgerSource] = []

    /// Connects, then as `init(connection:…)`.
    convenience init(
        postgres url: String, schema: WarehouseSchema, readerRole: String?, applicationName: String,
        loadSettings: [String] = [],
        logger: Logger
    ) throws {
        try self.init(
            connection: PostgresConnection(url: url, applicationName: applicationName), postgres: url, schema: schema,
            readerRole: readerRole, applicationName: applicationName, loadSettings: loadSettings, logger: logger)
    }

    /// Migrates `schema` (refusing a newer one), loads the fraud rule and the existing partitions, and opens the
    /// load pipeline (whose connections run `loadSettings` first).
    init(
        connection: PostgresConnection, postgres url: String, schema: WarehouseSchema, readerRole: String?,
        applicationName: String,
        loadSettings: [String], logger: Logger
    ) throws {
        self.connection = connection
        try Self.checkServer(connection)
        self.schema = schema
        self.logger = logger
        _ = try Migrator.migrate(connection, schema: schema, readerRole: readerRole, logger: logger)
        rule = try RateBook.load(connection, schema).newestAmountRule
        partitions = PartitionManager(schema: schema, logger: logger)
        try partitions.load(connection)
        pipeline = try LoadPipeline(
            postgres: url, schema: schema, applicationName: applicationName, settings: loadSettings, logger: logger)
    }

    /// Text must round-trip exactly: the database must store UTF-8 (timestamps come back in UTC: every
    /// `PostgresConnection` sets its session so).
    private static func checkServer(_ connection: PostgresConnection) throws {
        let encoding = try connection.query("SHOW server_encoding").scalar ?? ""
        guard encoding == "UTF8" else {
            throw ProjectorError(
                .invalidArgument, "the warehouse database must use UTF8 encoding",
                [("expected", "UTF8"), ("found", encoding)])
        }
    }

    /// Exact cents from PostgreSQL's text for a NUMERIC(12,2) ("1000.00", "-5.5", "12").
    static func parseCents(_ text: String) -> Int64? {
        let negative = text.hasPrefix("-")
        let digits = negative ? String(text.dropFirst()) : text
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = Int64(parts[0]) else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let fractionText = parts[1].count == 1 ? parts[1] + "0" : String(parts[1])
            guard fractionText.count == 2, let value = Int64(fractionText) else { return nil }
            fraction = value
        }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: 100)
        let (cents, overflowAdding) = scaled.addingReportingOverflow(fraction)
        guard !overflow && !overflowAdding else { return nil }
        return negative ? -cents : cents
    }

    /// Takes the session-level advisory lock that makes this process the only projector of `ledgerID` into
    /// this schema. False when another session holds it. PostgreSQL releases it when the session ends, even
    /// after kill -9 of the process (the server sees the socket close).
    func tryLock(ledgerID: UUID) throws -> Bool {
        try connection.query(
            "SELECT pg_try_advisory_lock($1)", [String(schema.advisoryLockKey("project:\(ledgerID.text)"))]
        ).scalar == "t"
    }

    /// The warehouse's checkpoint for `ledgerID` (0 when it has none).
    func checkpoint(of ledgerID: UUID) throws -> UInt64 {
        try Checkpoints.read(ledgerID, in: schema, on: connection) ?? 0
    }

    /// Refuses to go on from a checkpoint past the ledger's latest fork (a restore, `LedgerHistory`) unless the
    /// warehouse's rows come from that history; a checkpoint at or before the fork is shared by both histories,
    /// and the warehouse then notes the new one (migration 0006).
    func checkHistory(of ledgerID: UUID, directory: String, checkpoint: UInt64) throws {
        guard let fork = try LedgerHistory.latestFork(in: directory) else { return }
        let noted = try connection.query(
            "SELECT history FROM \(schema.table("ledger_histories")) WHERE ledger_id = $1", [ledgerID.uuidString]
        ).scalar
        guard noted.flatMap(UUID.init(uuidString:)) != fork.id else { return }
        guard checkpoint <= fork.afterLsn else {
            throw ProjectorError(
                .ledger,
                "this ledger was restored from an archive, and its records after the restored LSN may differ from those the warehouse holds: rebuild the warehouse from it (ledger-tool rebuild warehouse)",
                [
                    ("ledger.id", ledgerID.text), ("ledger.path", directory), ("checkpoint", String(checkpoint)),
                    ("restored_through_lsn", String(fork.afterLsn)), ("restored_at", fork.restoredAt),
                ])
        }
        try noteHistory(of: ledgerID, fork)
    }

    /// Records that the warehouse's rows of `ledgerID` come from the history `fork` starts.
    func noteHistory(of ledgerID: UUID, _ fork: LedgerHistory.Fork) throws {
        try connection.query(
            """
            INSERT INTO \(schema.table("ledger_histories")) (ledger_id, history, fork_lsn) VALUES ($1, $2, $3)
            ON CONFLICT (ledger_id) DO UPDATE SET history = EXCLUDED.history, fork_lsn = EXCLUDED.fork_lsn, noted_at = now()
            """, [ledgerID.uuidString, fork.id.uuidString, String(fork.afterLsn)])
    }

    // MARK: Batches

    /// Builds the batch of `entries` (the records after `source`'s read position) and hands it to the
    /// pipeline, first waiting for the oldest batch when the pipeline is full. Returns the batches that
    /// committed meanwhile. An unprojectable record (without quarantine) submits what precedes it, waits for
    /// everything in flight, and then throws `.unprojectableRecord`.
    func submit(_ entries: [LedgerEntry], of source: LedgerSource, quarantine: Bool) throws -> [CommittedBatch] {
        guard let ledgerID = source.ledgerID, !entries.isEmpty else {
            preconditionFailure("entries come from an open ledger")
        }
        var builder = BatchBuilder(
            ledgerID: ledgerID, rates: try RateBook.load(connection, schema), quarantine: quarantine)
        let (batch, stop) = builder.build(entries)
        var committed: [CommittedBatch] = []
        if !batch.isEmpty {
            try partitions.ensure(Set(batch.transactions.map(\.day)), connection, today: Self.today())
            if pipeline.isFull { committed.append(try completeOldest()) }
            let completion = pipeline.submit(
                batch, expectedCheckpoint: source.readThrough, predecessor: source.lastSubmitted)
            source.handedOut(through: batch.lastLSN, completion: completion)
            inFlightSources.append(source)
        }
        if let stop {
            committed += try completeAll()
            logger.error(
                "projector.record.unprojectable",
                metadata: [
                    "ledger.id": "\(ledgerID.text)", "ledger.lsn": "\(stop.context("ledger.lsn") ?? "")",
                    "projector.reason": "\(stop.context("reason") ?? "")",
                ])
            throw stop
        }
        return committed
    }

    /// Waits for every batch in flight. Throws the first failure, after all of them have finished.
    func completeAll() throws -> [CommittedBatch] {
        var committed: [CommittedBatch] = []
        var firstError: (any Error)?
        while !pipeline.isEmpty {
            do {
                committed.append(try completeOldest())
            } catch {
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
        return committed
    }

    /// Whether a batch is still being written.
    var hasBatchesInFlight: Bool { !pipeline.isEmpty }

    /// The oldest batch in flight once it has committed, waiting at most `milliseconds`: nil if it is still
    /// being written then. Throws as `completeAll` when it failed.
    func completeOldest(waitingAtMostMilliseconds milliseconds: Int) throws -> CommittedBatch? {
        guard let (batch, result) = pipeline.awaitOldest(atMostMilliseconds: milliseconds) else { return nil }
        return try accountFor(batch, result)
    }

    private func completeOldest() throws -> CommittedBatch {
        let (batch, result) = pipeline.awaitOldest()
        return try accountFor(batch, result)
    }

    private func accountFor(_ batch: ProjectionBatch, _ result: Result<WarehouseLoader.Outcome, any Error>) throws
        -> CommittedBatch
    {
        let source = inFlightSources.removeFirst()
        let outcome = try result.get()
        source.committed(through: batch.lastLSN)
        return CommittedBatch(batch: batch, outcome: outcome)
    }

    static func today() -> UTCCalendar.Day {
        UTCCalendar.Day(microsecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1_000_000))
    }
}

/// A batch and what committing it did.
struct CommittedBatch: Sendable {
    var batch: ProjectionBatch
    var outcome: WarehouseLoader.Outcome
}
