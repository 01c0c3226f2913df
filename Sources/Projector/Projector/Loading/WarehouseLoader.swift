import Foundation
import Ledger
import Logging
import MessageSchema
import OperatingErrors
import PostgresClient

/// Writes batches into one warehouse schema over one connection: rows, rejections, gaps, quarantined records
/// and the checkpoint, all in ONE PostgreSQL transaction, so after any crash the warehouse holds exactly the
/// records up to its checkpoint and a replay from there changes nothing.
///
/// Two ways to load, the same result:
/// - direct (the normal case): COPY straight into `message_keys`, `transactions` and `rejected_messages`. The keys
///   of `message_keys` (Kafka topic, partition, offset; order_id) are the arbiters: within one ledger they never
///   collide, because the checkpoint moves in the same transaction.
/// - deduplicating: when a direct COPY hits one of those keys (SQLSTATE 23505: another ledger already projected
///   that offset or order, see DESIGN.md "Scaling out"), the transaction is rolled back and the batch is copied
///   into temporary staging tables, then inserted with ON CONFLICT DO NOTHING: the first ledger projected wins.
///
/// Either way, a record whose order the warehouse holds from another ledger's Kafka message with other content
/// becomes a conflict row (`conflictRows`), so both versions of an order are accounted for.
final class WarehouseLoader {
    let connection: PostgresConnection
    let schema: WarehouseSchema
    private let logger: Logger
    /// The OID of the schema when this loader started: a rebuild swaps schemas by renaming them, and a loader
    /// must not write into a schema other than the one whose checkpoints it read.
    private let schemaOID: String

    /// What one committed batch did.
    struct Outcome: Sendable {
        var rowsInserted = 0
        var rejectionsInserted = 0
        var gapsInserted = 0
        var quarantined = 0
        /// Orders another ledger had already projected (deduplicating path only).
        var skippedOrderIDs: Set<UUID> = []
        /// Of those, the ones whose warehouse row is another Kafka message with other content: made conflict rows.
        var skippedOrdersInConflict = 0
        /// Duplicates (in this ledger) of a version the warehouse does not hold, made conflict rows.
        var duplicatesInConflict = 0
        var rejectionsSkipped = 0
        var deduplicated = false
        /// Time spent in COPY, for `projector_copy_seconds`.
        var copyNanoseconds: UInt64 = 0
    }

    init(connection: PostgresConnection, schema: WarehouseSchema, logger: Logger) throws {
        self.connection = connection
        self.schema = schema
        self.logger = logger
        guard let oid = try Self.schemaOID(connection, schema) else {
            throw ProjectorError(.postgres, "the warehouse schema does not exist", [("warehouse.schema", schema.name)])
        }
        schemaOID = oid
    }

    static func schemaOID(_ connection: PostgresConnection, _ schema: WarehouseSchema) throws -> String? {
        try connection.query("SELECT oid FROM pg_namespace WHERE nspname = $1", [schema.name]).scalar
    }

    /// Writes `batch` in one transaction and moves the ledger's checkpoint from `expectedCheckpoint` to
    /// `batch.lastLSN`, but only once `predecessor` (the previous batch of the same ledger, on another
    /// connection) has committed: the COPY work overlaps, the commits stay in LSN order. Throws
    /// `.checkpointMoved` when the warehouse's checkpoint is not `expectedCheckpoint`, `.batchCancelled` when
    /// the predecessor failed; either way nothing of the batch is written.
    func write(_ batch: ProjectionBatch, expectedCheckpoint: UInt64, predecessor: BatchCompletion?) throws -> Outcome {
        precondition(
            batch.firstLSN == expectedCheckpoint + 1 && !batch.isEmpty,
            "a batch starts right after the checkpoint and is not empty")
        do {
            return try inTransaction {
                try load(batch, expectedCheckpoint: expectedCheckpoint, predecessor: predecessor, deduplicating: false)
            }
        } catch let error as ProjectorError where error.sqlState == "23505" {
            logger.info(
                "projector.batch.deduplicating",
                metadata: [
                    "ledger.id": "\(batch.ledgerID.text)", "projector.first_lsn": "\(batch.firstLSN)",
                    "projector.constraint": "\(error.context("constraint") ?? "")",
                ])
            return try inTransaction {
                try load(batch, expectedCheckpoint: expectedCheckpoint, predecessor: predecessor, deduplicating: true)
            }
        }
    }

    private func inTransaction(_ body: () throws -> Outcome) throws -> Outcome {
        try connection.execute("BEGIN")
        do {
            let outcome = try body()
            try connection.execute("COMMIT")
            return outcome
        } catch {
            // After a lost connection the server rolls back on its own; ROLLBACK then fails harmlessly.
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    private func load(
        _ batch: ProjectionBatch, expectedCheckpoint: UInt64, predecessor: BatchCompletion?, deduplicating: Bool
    ) throws -> Outcome {
        var outcome = Outcome()
        outcome.deduplicated = deduplicating
        let started = DispatchTime.now().uptimeNanoseconds
        try insert(batch.transactions, batch.rejections, of: batch, deduplicating: deduplicating, into: &outcome)
        outcome.copyNanoseconds = DispatchTime.now().uptimeNanoseconds - started
        outcome.gapsInserted = try insertGaps(batch.gaps)
        outcome.quarantined = try insertQuarantined(batch.quarantined)
        try predecessor?.waitUntilCommitted()
        // Only now is the warehouse's version of each duplicate's order final: the original, at a lower LSN of
        // this ledger, is either committed (an earlier batch) or in this transaction, and it went in unless
        // another ledger's version had committed first. Looked at any earlier, an order held by nobody yet looks
        // like no conflict, and the other ledger's version can commit in between (chaos seed 945806512).
        let duplicateConflicts = try conflictRows(contradicting: batch.duplicates, of: batch)
        outcome.duplicatesInConflict = duplicateConflicts.count
        try insert([], duplicateConflicts, of: batch, deduplicating: deduplicating, into: &outcome)
        // The checkpoint last: it verifies nobody else moved it, and its row lock is held only for the commit.
        try moveCheckpoint(batch.ledgerID, from: expectedCheckpoint, to: batch.lastLSN)
        return outcome
    }

    /// Writes rows and rejections (each with its `message_keys` entry) the batch's way: direct or deduplicating.
    private func insert(
        _ transactions: [TransactionRow], _ rejections: [RejectionRow], of batch: ProjectionBatch,
        deduplicating: Bool, into outcome: inout Outcome
    ) throws {
        guard !transactions.isEmpty || !rejections.isEmpty else { return }
        if deduplicating {
            try loadDeduplicating(transactions, rejections: rejections, of: batch, into: &outcome)
        } else {
            try loadDirect(transactions, rejections: rejections, into: &outcome)
        }
    }

    /// COPY straight in: the keys first, so that a key another ledger holds fails the transaction (23505) early.
    private func loadDirect(_ transactions: [TransactionRow], rejections: [RejectionRow], into outcome: inout Outcome)
        throws
    {
        try connection.copyIn("COPY \(schema.messageKeys) (\(CopyColumns.messageKeys)) FROM STDIN (FORMAT binary)") {
            stream in
            for row in transactions {
                CopyColumns.encodeTransactionKey(row, into: &stream.buffer)
                try stream.flushIfFull()
            }
            for row in rejections {
                CopyColumns.encodeRejectionKey(row, into: &stream.buffer)
                try stream.flushIfFull()
            }
        }
        if !transactions.isEmpty {
            outcome.rowsInserted += try copy(
                transactions, into: schema.transactions, columns: CopyColumns.transactions,
                encode: CopyColumns.encodeTransaction)
        }
        if !rejections.isEmpty {
            outcome.rejectionsInserted += try copy(
                rejections, into: schema.rejectedMessages, columns: CopyColumns.rejections,
                encode: CopyColumns.encodeRejection)
        }
    }

    /// Stages the batch, then inserts the keys it may have (ON CONFLICT DO NOTHING covers both keys) and only the
    /// rows whose key went in. An accepted record whose order is already in the warehouse from another Kafka
    /// message with other content becomes a conflict row, as it would have in a single ledger (`conflictRows`).
    private func loadDeduplicating(
        _ transactions: [TransactionRow], rejections: [RejectionRow], of batch: ProjectionBatch,
        into outcome: inout Outcome
    ) throws {
        var rejections = rejections
        if !transactions.isEmpty {
            let inserted = try insertWhereKeysAreNew(
                transactions, staging: "projector_staging_transactions", into: schema.transactions,
                columns: CopyColumns.transactions, encode: CopyColumns.encodeTransaction,
                keys: "source_topic, source_partition, source_offset, order_id, transaction_timestamp, ledger_id, lsn",
                joinedOn: "order_id", returning: "RETURNING order_id")
            let insertedIDs = Set(
                (0..<inserted.count).compactMap { inserted.value($0, "order_id").flatMap(UUID.init(uuidString:)) })
            outcome.rowsInserted += insertedIDs.count
            let skipped = Set(transactions.map(\.orderID)).subtracting(insertedIDs)
            outcome.skippedOrderIDs.formUnion(skipped)
            let conflicts = try conflictRows(
                contradicting: transactions.filter { skipped.contains($0.orderID) }, of: batch)
            outcome.skippedOrdersInConflict += conflicts.count
            rejections += conflicts
        }
        if !rejections.isEmpty {
            let inserted = try insertWhereKeysAreNew(
                rejections, staging: "projector_staging_rejections", into: schema.rejectedMessages,
                columns: CopyColumns.rejections, encode: CopyColumns.encodeRejection,
                keys: "source_topic, source_partition, source_offset, NULL, NULL, ledger_id, lsn",
                joinedOn: "source_topic, source_partition, source_offset"
            ).affectedRows
            outcome.rejectionsInserted += inserted
            outcome.rejectionsSkipped += rejections.count - inserted
        }
    }

    /// Conflict rows for those of `candidates` (accepted or duplicate records of this ledger) whose order the
    /// warehouse holds from another Kafka message with other content. With several ledgers each ingest instance
    /// classifies a repeat against what it saw, so an order can be accepted in two versions, and a duplicate in
    /// one ledger can repeat the version the warehouse did not keep; in one ledger either would have been a
    /// conflict. The warehouse's row of an order is final once there, and a candidate's own ledger put its
    /// version in at a lower LSN, so the answer does not depend on the order in which ledgers are projected.
    private func conflictRows(contradicting candidates: [TransactionRow], of batch: ProjectionBatch) throws
        -> [RejectionRow]
    {
        guard !candidates.isEmpty else { return [] }
        let keys = try warehouseKeys(of: candidates.map(\.orderID), heldByOtherThan: batch.ledgerID)
        var rows: [RejectionRow] = []
        for candidate in candidates {
            precondition(candidate.ledgerID == batch.ledgerID, "a batch holds the records of one ledger")
            // `keys` leaves out this ledger's rows: its own version is the one its duplicates repeat.
            guard let key = keys[candidate.orderID], key.source != Self.sourceKey(candidate.source) else { continue }
            guard let kept = try warehouseContent(of: key) else { continue }
            if kept != Self.content(candidate) {
                rows.append(RejectionRow(crossLedgerConflictOf: candidate))
            }
        }
        if !rows.isEmpty {
            logger.info(
                "projector.batch.cross_ledger_conflicts",
                metadata: [
                    "ledger.id": "\(batch.ledgerID.text)", "projector.first_lsn": "\(batch.firstLSN)",
                    "projector.conflicts": "\(rows.count)",
                ])
        }
        return rows
    }

    /// Where the warehouse's row of an order is, and which Kafka message it came from.
    private struct RowKey {
        var ledgerID: UUID
        var lsn: String
        var timestamp: String
        var source: String
    }

    /// The `message_keys` entry of each of `orderIDs` that the warehouse holds from a ledger other than `ledgerID`
    /// (one indexed lookup each; no partition read). The ledger's own rows are left out in the query, not after it:
    /// they are every row of a single-ledger warehouse, and a replay of old orders (every message a duplicate) sent
    /// each back to be parsed: UUID parsing was 22 % and this function 54 % of the projector's CPU (2026-12-07).
    private func warehouseKeys(of orderIDs: [UUID], heldByOtherThan ledgerID: UUID) throws -> [UUID: RowKey] {
        let found = try connection.query(
            """
            SELECT order_id, ledger_id, lsn, transaction_timestamp, source_topic, source_partition, source_offset
            FROM \(schema.messageKeys) WHERE order_id = ANY($1::uuid[]) AND ledger_id <> $2::uuid
            """, ["{" + orderIDs.map(\.uuidString).joined(separator: ",") + "}", ledgerID.uuidString])
        var keys: [UUID: RowKey] = [:]
        for index in 0..<found.count {
            func value(_ column: String) -> String { found.value(index, column) ?? "" }
            guard let orderID = UUID(uuidString: value("order_id")), let ledgerID = UUID(uuidString: value("ledger_id"))
            else { continue }
            keys[orderID] = RowKey(
                ledgerID: ledgerID, lsn: value("lsn"), timestamp: value("transaction_timestamp"),
                source: value("source_topic") + "\u{0}" + value("source_partition") + "\u{0}" + value("source_offset"))
        }
        return keys
    }

    /// The content of the row `key` leads to, compared field by field with `content(_:)`. The timestamp picks the
    /// partition when the statement starts. Nil when warehouse retention (`--retention-days`) dropped the row's day:
    /// its content is gone, and the order stays known by its key alone (no conflict row can be judged).
    private func warehouseContent(of key: RowKey) throws -> [String]? {
        let found = try connection.query(
            """
            SELECT (amount * 100)::bigint, currency, (extract(epoch FROM transaction_timestamp) * 1000000)::bigint, customer_id, product_category
            FROM \(schema.transactions) WHERE transaction_timestamp = $1::timestamptz AND ledger_id = $2 AND lsn = $3
            """, [key.timestamp, key.ledgerID.uuidString, key.lsn])
        if found.count == 0, try droppedByRetention(key.timestamp) {
            logger.info(
                "projector.conflict_check.day_dropped",
                metadata: ["ledger.id": "\(key.ledgerID.text)", "ledger.lsn": "\(key.lsn)"])
            return nil
        }
        guard found.count == 1 else {
            throw ProjectorError(
                .postgres, "an order's key in message_keys leads to no transactions row",
                [
                    ("ledger.id", key.ledgerID.text), ("ledger.lsn", key.lsn), ("transaction_timestamp", key.timestamp),
                ])
        }
        return found.values[0].map { $0 ?? "" }
    }

    /// Whether warehouse retention dropped the UTC day of `timestamp` (`warehouse_retention`, migration 0007).
    private func droppedByRetention(_ timestamp: String) throws -> Bool {
        try connection.query(
            """
            SELECT 1 FROM \(schema.table("warehouse_retention"))
            WHERE ($1::timestamptz AT TIME ZONE 'UTC')::date < first_kept_day
            """, [timestamp]
        ).count == 1
    }

    private static func sourceKey(_ source: SourceCoordinates) -> String {
        "\(source.topic)\u{0}\(source.partition)\u{0}\(source.offset)"
    }

    private static func content(_ row: TransactionRow) -> [String] {
        [String(row.amountCents), row.currency, String(row.timestampMicroseconds), row.customerID, row.productCategory]
    }

    /// "a, b" → "s.a, s.b".
    private static func qualified(_ columns: String, with alias: String) -> String {
        columns.split(separator: ",").map { alias + "." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(
            separator: ", ")
    }

    /// Copies `rows` into the temporary table `staging` (the COPY `columns` of `table`, emptied at commit and
    /// gone with a rollback), inserts their `message_keys` (`keys`: the values, in the table's column order),
    /// skipping keys another ledger holds, then those rows whose key went in (matched on `joinedOn`). The staging
    /// table is emptied first too: one transaction stages twice, the batch's rows and its duplicates' conflicts.
    private func insertWhereKeysAreNew<Row>(
        _ rows: [Row], staging: String, into table: String, columns: String,
        encode: (Row, inout BinaryCopyBuffer) -> Void, keys: String, joinedOn: String, returning: String = ""
    ) throws -> PostgresRows {
        try connection.execute(
            """
            CREATE TEMPORARY TABLE IF NOT EXISTS \(staging) ON COMMIT DELETE ROWS AS SELECT \(columns) FROM \(table) WITH NO DATA
            """)
        try connection.execute("TRUNCATE \(staging)")
        try copy(rows, into: "pg_temp." + staging, columns: columns, encode: encode)
        return try connection.query(
            """
            WITH keys AS (
                INSERT INTO \(schema.messageKeys) (\(CopyColumns.messageKeys))
                SELECT \(keys) FROM pg_temp.\(staging) ORDER BY lsn
                ON CONFLICT DO NOTHING
                RETURNING \(joinedOn))
            INSERT INTO \(table) (\(columns))
            SELECT \(Self.qualified(columns, with: "s")) FROM pg_temp.\(staging) s JOIN keys USING (\(joinedOn))
            \(returning)
            """)
    }

    @discardableResult
    private func copy<Row>(
        _ rows: [Row], into table: String, columns: String, encode: (Row, inout BinaryCopyBuffer) -> Void
    ) throws -> Int {
        try connection.copyIn("COPY \(table) (\(columns)) FROM STDIN (FORMAT binary)") { stream in
            for row in rows {
                encode(row, &stream.buffer)
                try stream.flushIfFull()
            }
        }
    }

    // MARK: Rare rows: parameters, one statement each

    private func insertGaps(_ gaps: [GapRow]) throws -> Int {
        try insertEach(
            gaps,
            """
            INSERT INTO \(schema.ledgerGaps) (source_topic, source_partition, first_offset, last_offset, recorded_at, ledger_id, lsn)
            VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING
            """
        ) { gap in
            [
                gap.topic, String(gap.partition), String(gap.firstOffset), String(gap.lastOffset),
                RFC3339.format(microsecondsSinceEpoch: gap.recordedMicroseconds), gap.ledgerID.uuidString,
                String(gap.lsn),
            ]
        }
    }

    private func insertQuarantined(_ records: [QuarantineRow]) throws -> Int {
        for record in records {
            logger.warning(
                "projector.record.quarantined",
                metadata: [
                    "ledger.id": "\(record.ledgerID.text)", "ledger.lsn": "\(record.lsn)",
                    "projector.reason": "\(record.reason)",
                ])
        }
        return try insertEach(
            records,
            """
            INSERT INTO \(schema.quarantinedRecords) (ledger_id, lsn, kind, reason, source_topic, source_partition, source_offset)
            VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING
            """
        ) { record in
            [
                record.ledgerID.uuidString, String(record.lsn), record.kind, Self.storable(record.reason),
                Self.storable(record.source.topic), String(record.source.partition), String(record.source.offset),
            ]
        }
    }

    /// One parameterised statement per row (for the rare rows, where a COPY's set-up costs more than it saves);
    /// returns how many rows went in (`ON CONFLICT DO NOTHING` skips those already there).
    private func insertEach<Row>(_ rows: [Row], _ statement: String, parameters: (Row) -> [String?]) throws -> Int {
        var inserted = 0
        for row in rows {
            inserted += try connection.query(statement, parameters(row)).affectedRows
        }
        return inserted
    }

    /// Text for a diagnostic column: U+0000 (the usual reason a record is quarantined) shown as "\0".
    private static func storable(_ text: String) -> String { text.replacingOccurrences(of: "\u{0}", with: "\\0") }

    // MARK: Checkpoint

    /// Moves the checkpoint, provided it is where this projector left it AND the schema is still the one this
    /// loader knows (a rebuild swaps in a new schema under the same name: its partitions, rule and checkpoints
    /// must be read again).
    private func moveCheckpoint(_ ledgerID: UUID, from expected: UInt64, to new: UInt64) throws {
        let id = ledgerID.uuidString
        let sameSchema = "(SELECT oid FROM pg_namespace WHERE nspname = $3) = $4::oid"
        let moved =
            expected == 0
            ? try connection.query(
                """
                INSERT INTO \(schema.checkpoints) (ledger_id, last_lsn) SELECT $1, $2 WHERE \(sameSchema) ON CONFLICT (ledger_id) DO NOTHING
                """, [id, String(new), schema.name, schemaOID]
            ).affectedRows
            : try connection.query(
                """
                UPDATE \(schema.checkpoints) SET last_lsn = $2, updated_at = now() WHERE ledger_id = $1 AND last_lsn = $5 AND \(sameSchema)
                """, [id, String(new), schema.name, schemaOID, String(expected)]
            ).affectedRows
        guard moved == 1 else {
            let found = try checkpoint(of: ledgerID)
            throw ProjectorError(
                .checkpointMoved,
                "the warehouse's checkpoint is not where this projector left it, or its schema was replaced",
                [
                    ("ledger.id", id.lowercased()), ("expected", String(expected)),
                    ("found", found.map(String.init) ?? "none"),
                    ("schema_oid_expected", schemaOID),
                    ("schema_oid_found", try Self.schemaOID(connection, schema) ?? "none"),
                ])
        }
    }

    /// The last LSN of `ledgerID` in the warehouse, nil when it has none.
    func checkpoint(of ledgerID: UUID) throws -> UInt64? {
        try Checkpoints.read(ledgerID, in: schema, on: connection)
    }
}
