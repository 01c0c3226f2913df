import Foundation
import Ledger
import Logging
import OperatingErrors
import PostgresClient
import ServiceKit

/// `ledger-tool rebuild warehouse`: the whole warehouse rebuilt from the ledger into a shadow schema, optionally
/// verified day by day against the ledger, then swapped in atomically.
///
/// Steps, and what an interruption at each leaves behind:
/// 1. Drop any shadow left by an earlier, interrupted rebuild; create `<schema>__rebuild` and migrate it.
/// 2. Project every ledger from LSN 1 up to the limit into the shadow, with the projector's own loader (so the
///    rows are the ones incremental projection writes, batch ids included).
/// 3. With `verify`, compare the shadow's per-day digests with digests computed from the ledger records.
/// 4. In one transaction: rename the live schema to `<schema>__old_<unix seconds>`, rename the shadow to the
///    live name. Then drop the old one.
/// Interrupted during 1–3 (signal, crash, error): the live schema is untouched; the shadow is left over and the
/// next rebuild drops it. Step 4 is one transaction: either both renames happened or neither.
///
/// A projector running against the live schema meanwhile notices the swap on its next batch (the schema's OID
/// changed), re-reads its checkpoint from the new schema and carries on from there.
public final class WarehouseRebuild {
    /// Where the rebuild stops.
    public enum Limit: Sendable, Hashable {
        /// Through this LSN (one ledger only: LSNs are per ledger).
        case lsn(UInt64)
        /// Through the last record ingested at or before this instant (microseconds since 1970, UTC): the
        /// warehouse as it would have been had projection stopped there.
        case ingestedBy(microsecondsSinceEpoch: Int64)
    }

    public struct Options: Sendable {
        public var ledgerDirectories: [String]
        public var postgresURL: String
        public var schema: WarehouseSchema
        public var readerRole: String?
        public var limit: Limit?
        public var verify: Bool
        public var transactionRecords: Int

        public init(
            ledgerDirectories: [String], postgresURL: String, schema: WarehouseSchema,
            readerRole: String? = "grafana_reader",
            limit: Limit? = nil, verify: Bool = false,
            transactionRecords: Int = ProjectorLimits.transactionRecordsDefault
        ) {
            precondition(!ledgerDirectories.isEmpty, "at least one ledger")
            self.ledgerDirectories = ledgerDirectories
            self.postgresURL = postgresURL
            self.schema = schema
            self.readerRole = readerRole
            self.limit = limit
            self.verify = verify
            self.transactionRecords = transactionRecords
        }
    }

    /// What the rebuild did.
    public struct Report: Sendable {
        /// Per ledger: its id and the last LSN now in the warehouse.
        public var ledgers: [(id: UUID, lastLSN: UInt64)] = []
        public var records: UInt64 = 0
        public var rows = 0
        public var rejections = 0
        public var days = 0
        /// Days whose digest was compared (0 without `verify`).
        public var verifiedDays = 0
        public var seconds = 0.0
    }

    /// Progress: records read so far and the total to read (the durable LSNs, summed).
    public typealias Progress = (_ done: UInt64, _ total: UInt64) -> Void

    private let options: Options
    private let logger: Logger

    public init(options: Options, logger: Logger) throws {
        if case .lsn = options.limit, options.ledgerDirectories.count > 1 {
            throw ProjectorError(
                .invalidArgument, "--until LSN needs exactly one ledger: LSNs are per ledger (use a timestamp)")
        }
        self.options = options
        self.logger = logger
    }

    /// Runs the rebuild. `shouldStop` is polled between batches: returning true abandons the rebuild with
    /// `.interrupted`, leaving the live warehouse untouched.
    public func run(progress: Progress = { _, _ in }, shouldStop: () -> Bool = { false }) throws -> Report {
        let started = Date()
        let sources = try options.ledgerDirectories.map { directory -> LedgerSource in
            let source = LedgerSource(directory: directory)
            try source.open()
            return source
        }
        let ends = try sources.map { try endLSN($0) }
        let total = ends.reduce(0, +)
        let shadow = options.schema.rebuildShadow
        let session = try prepareShadow(shadow)
        try copyConfiguration(session.connection, into: shadow)
        var report = Report()
        var digest = LedgerDigestAccumulator(rates: try RateBook.load(session.connection, shadow))
        for (source, end) in zip(sources, ends) {
            try project(
                source, through: end, session: session, digest: &digest, report: &report, total: total,
                progress: progress, shouldStop: shouldStop)
        }
        report.days = digest.days.values.filter { $0.transactions != 0 }.count
        try session.partitions.createAhead(session.connection, today: ProjectionSession.today())
        if options.verify { report.verifiedDays = try verify(session, shadow: shadow, expected: digest.days) }
        try swap(session, shadow: shadow)
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// The last LSN to rebuild: the durable LSN, or `--until` LSN if lower. A time limit is found while reading.
    private func endLSN(_ source: LedgerSource) throws -> UInt64 {
        let durable = try source.durableLSN()
        guard case .lsn(let limit) = options.limit else { return durable }
        guard limit <= durable else {
            throw ProjectorError(
                .invalidArgument, "--until is beyond the ledger's durable LSN",
                [("until", String(limit)), ("durable_lsn", String(durable))])
        }
        return limit
    }

    private func prepareShadow(_ shadow: WarehouseSchema) throws -> ProjectionSession {
        let connection = try PostgresConnection(url: options.postgresURL, applicationName: "ledger-tool rebuild")
        // One rebuild per schema at a time: the lock lives as long as this connection, i.e. the whole rebuild.
        guard
            try connection.query("SELECT pg_try_advisory_lock($1)", [String(options.schema.advisoryLockKey("rebuild"))])
                .scalar == "t"
        else {
            throw ProjectorError(
                .ledgerBusy, "another rebuild of this warehouse schema is running",
                [("warehouse.schema", options.schema.name)])
        }
        let liveVersion = try Migrator.currentVersion(connection, schema: options.schema)
        guard liveVersion <= Migration.latestVersion else {
            throw ProjectorError(
                .schemaTooNew, "the live warehouse schema is newer than this binary",
                [
                    ("warehouse.schema", options.schema.name), ("expected_at_most", String(Migration.latestVersion)),
                    ("found", String(liveVersion)),
                ])
        }
        try connection.execute("DROP SCHEMA IF EXISTS \(shadow.quoted) CASCADE")
        // Each batch of a rebuild needs no durability of its own: a crash restarts the rebuild, and the swap is
        // committed synchronously. Skipping the WAL flush per batch saves a disk round trip each.
        let session = try ProjectionSession(
            connection: connection, postgres: options.postgresURL, schema: shadow, readerRole: options.readerRole,
            applicationName: "ledger-tool rebuild", loadSettings: ["SET synchronous_commit TO off"], logger: logger)
        logger.info("rebuild.shadow.created", metadata: ["warehouse.schema": "\(shadow)"])
        return session
    }

    /// The live warehouse's configuration (fraud rule and tax rate versions, alert thresholds) goes into the
    /// shadow before any row: a rebuild applies the versions the operator added, not only those the migrations
    /// seed. Columns the live schema lacks (an older migration) keep the shadow's defaults; the shadow's triggers
    /// (versions are immutable and take effect from now) are off for the copy, which restores versions as they were.
    private func copyConfiguration(_ connection: PostgresConnection, into shadow: WarehouseSchema) throws {
        let live = options.schema
        for table in ["fraud_rules", "tax_rates", "alert_thresholds"] {
            let liveColumns = try columns(connection, live, table)
            guard !liveColumns.isEmpty else { continue }  // no live warehouse yet, or one older than the table
            let list = try columns(connection, shadow, table).filter(liveColumns.contains).map { "\"\($0)\"" }
                .joined(separator: ", ")
            let target = "\(shadow.quoted).\"\(table)\""
            try connection.execute(
                """
                BEGIN;
                ALTER TABLE \(target) DISABLE TRIGGER USER;
                DELETE FROM \(target);
                INSERT INTO \(target) (\(list)) SELECT \(list) FROM \(live.quoted).\"\(table)\";
                ALTER TABLE \(target) ENABLE TRIGGER USER;
                COMMIT;
                """)
        }
    }

    private func columns(_ connection: PostgresConnection, _ schema: WarehouseSchema, _ table: String) throws
        -> [String]
    {
        let rows = try connection.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
            [schema.name, table])
        return (0..<rows.count).compactMap { rows.value($0, "column_name") }
    }

    private func project(
        _ source: LedgerSource, through end: UInt64, session: ProjectionSession, digest: inout LedgerDigestAccumulator,
        report: inout Report, total: UInt64, progress: Progress, shouldStop: () -> Bool
    ) throws {
        guard let ledgerID = source.ledgerID else { preconditionFailure("the source was opened") }
        guard try session.tryLock(ledgerID: ledgerID) else {
            throw ProjectorError(
                .ledgerBusy, "another rebuild is filling the shadow schema", [("ledger.id", ledgerID.text)])
        }
        try source.position(after: 0)
        var reachedLimit = false
        while source.readThrough < end && !reachedLimit {
            if shouldStop() {
                throw ProjectorError(
                    .interrupted, "rebuild interrupted before the swap: the live warehouse is untouched",
                    [("ledger.id", ledgerID.text)])
            }
            var entries = try source.nextEntries(maxRecords: options.transactionRecords, through: end)
            if case .ingestedBy(let limit) = options.limit,
                let cut = entries.firstIndex(where: { $0.record.ingestTimeMicroseconds > limit })
            {
                entries.removeSubrange(cut...)
                reachedLimit = true
            }
            guard !entries.isEmpty else {
                guard reachedLimit else {
                    throw ProjectorError(
                        .ledger, "the ledger returned no record below its durable LSN",
                        [("ledger.id", ledgerID.text), ("lsn", String(source.readThrough + 1))])
                }
                break
            }
            for entry in entries {
                if case .accepted(let transaction) = entry.record.body { try digest.add(transaction) }
            }
            try account(
                session.submit(entries, of: source, quarantine: false), digest: &digest, report: &report, total: total,
                progress: progress)
        }
        try account(session.completeAll(), digest: &digest, report: &report, total: total, progress: progress)
        // The shadow's rows come from the ledger's current history (after a restore, the new one).
        if let fork = try LedgerHistory.latestFork(in: source.directory) { try session.noteHistory(of: ledgerID, fork) }
        report.ledgers.append((ledgerID, source.checkpoint))
        logger.info(
            "rebuild.ledger.done",
            metadata: ["ledger.id": "\(ledgerID.text)", "ledger.last_lsn": "\(source.checkpoint)"])
    }

    /// Counts committed batches, and takes back from the ledger's digest the orders another ledger projected
    /// first (they are not in this ledger's share of the warehouse).
    private func account(
        _ batches: [CommittedBatch], digest: inout LedgerDigestAccumulator, report: inout Report, total: UInt64,
        progress: Progress
    ) throws {
        for committed in batches {
            for row in committed.batch.transactions where committed.outcome.skippedOrderIDs.contains(row.orderID) {
                try digest.remove(amountCents: row.amountCents, microseconds: row.timestampMicroseconds)
            }
            report.records += committed.batch.recordCount
            report.rows += committed.outcome.rowsInserted
            report.rejections += committed.outcome.rejectionsInserted
            progress(report.records, total)
        }
    }

    private func verify(_ session: ProjectionSession, shadow: WarehouseSchema, expected: DailyDigests) throws -> Int {
        let found = try WarehouseDigest.read(session.connection, schema: shadow)
        let differences = WarehouseDigest.differences(expected: expected, found: found)
        guard differences.isEmpty else {
            for line in differences.prefix(20) {
                logger.error("rebuild.verify.difference", metadata: ["rebuild.difference": "\(line)"])
            }
            throw ProjectorError(
                .verificationFailed, "the rebuilt warehouse differs from the ledger; the live warehouse is untouched",
                [
                    ("days_differing", String(differences.count)), ("first", differences[0]),
                ])
        }
        logger.info("rebuild.verified", metadata: ["rebuild.days": "\(found.count)"])
        return Set(expected.filter { $0.value.transactions != 0 }.keys).union(found.keys).count
    }

    /// Both renames in one transaction, durably; then the old schema is dropped.
    private func swap(_ session: ProjectionSession, shadow: WarehouseSchema) throws {
        let connection = session.connection
        let retired = options.schema.retired(at: Int64(Date().timeIntervalSince1970))
        let liveExists =
            try connection.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [options.schema.name]).count == 1
        try connection.execute("BEGIN")
        do {
            try connection.execute("SET LOCAL synchronous_commit TO on")
            if liveExists {
                try connection.execute("ALTER SCHEMA \(options.schema.quoted) RENAME TO \(retired.quoted)")
            }
            try connection.execute("ALTER SCHEMA \(shadow.quoted) RENAME TO \(options.schema.quoted)")
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
        logger.info(
            "rebuild.swapped",
            metadata: [
                "warehouse.schema": "\(options.schema)", "warehouse.retired": "\(liveExists ? retired.name : "none")",
            ])
        if liveExists { try connection.execute("DROP SCHEMA \(retired.quoted) CASCADE") }
    }
}

extension WarehouseRebuild.Options: CustomStringConvertible, CustomDebugStringConvertible {
    /// Without the password, should anything ever log these options.
    public var description: String {
        "WarehouseRebuild.Options(ledgers: \(ledgerDirectories), postgres: \(ConnectionString.redacted(postgresURL)), schema: \(schema), "
            + "limit: \(limit.map { "\($0)" } ?? "none"), verify: \(verify))"
    }

    public var debugDescription: String { description }
}
