import Foundation
import MessageSchema

/// The ledger's SQLite index (`index.sqlite` in the ledger directory): segments with their LSN and time ranges,
/// frame positions, per-(topic, partition) durable watermarks, order_id → LSN, and record counts.
///
/// The index is a cache of the segments. Everything in it is derived from segment bytes alone, so
/// `ledger-tool rebuild index` recreates it identically, and recovery re-derives whatever a crash kept from
/// being published. It is written only after the segment bytes it describes are fsynced; its `durable_lsn` is
/// what readers trust as the end of the durable prefix.
///
/// The order index lags: orders are inserted in batches of up to `Limits.orderIndexBatchOrdersMax` (meta
/// `orders_lsn` says through which LSN it is complete). The writer holds the rest in memory; a reader looks for
/// them in the records after `orders_lsn`; recovery inserts them on the next open.
final class LedgerIndex {
    static let fileName = "index.sqlite"
    /// Bumped when the tables change; an index of another version is rebuilt from the segments.
    static let schemaVersion = 3
    /// SQLite's page cache per connection, in KiB: enough for the inner pages of an order index of 100M+ orders.
    /// Its leaves do not fit in any cache of a sensible size (a B-tree keyed by random UUIDs, ~40 bytes an
    /// order); order batches visit them in key order, reading each from the OS page cache once per batch. A 128
    /// MiB cache appended no faster (1M records: 336k vs 328k records/s; 4M: 251k vs 256k), and took a minute
    /// of ingest to fill, which looked like growing memory.
    static let pageCacheKibibytes = 32 << 10
    /// How often the writer's `IndexCheckpointer` copies the WAL into the database file, in milliseconds.
    static let checkpointIntervalMilliseconds = 1_000
    /// WAL pages (4 KiB) after which SQLite checkpoints inside a commit, on the committing thread: a backstop
    /// for when `IndexCheckpointer` falls behind (1 GiB), not the normal path.
    static let checkpointBackstopPages = 262_144

    let database: SQLiteDatabase
    private var statements: [String: SQLiteStatement] = [:]

    /// `readOnly`: `verify` and others that must never write (SQLite then refuses any write).
    init(path: String, readOnly: Bool = false) throws {
        database = try SQLiteDatabase(path: path, readOnly: readOnly)
        guard !readOnly else { return }
        // WAL journal: readers (projector, ledger-tool) never block the writer. synchronous=NORMAL: a power cut
        // may lose the last published batch, which recovery re-derives from the fsynced segments.
        try database.execute(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-\(Self.pageCacheKibibytes); PRAGMA wal_autocheckpoint=\(Self.checkpointBackstopPages);"
        )
        try createSchema()
    }

    private func createSchema() throws {
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS segments(
                first_lsn INTEGER PRIMARY KEY, file_name TEXT NOT NULL, last_lsn INTEGER NOT NULL,
                frame_count INTEGER NOT NULL, byte_length INTEGER NOT NULL, sealed INTEGER NOT NULL,
                previous_digest INTEGER NOT NULL, digest INTEGER NOT NULL, created_at_us INTEGER NOT NULL,
                min_ingest_us INTEGER, max_ingest_us INTEGER, min_event_us INTEGER, max_event_us INTEGER);
            CREATE TABLE IF NOT EXISTS frames(
                first_lsn INTEGER PRIMARY KEY, segment_first_lsn INTEGER NOT NULL, byte_offset INTEGER NOT NULL,
                record_count INTEGER NOT NULL, stored_bytes INTEGER NOT NULL, raw_bytes INTEGER NOT NULL,
                crc INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS watermarks(
                topic TEXT NOT NULL, partition INTEGER NOT NULL, last_offset INTEGER NOT NULL, last_lsn INTEGER NOT NULL,
                PRIMARY KEY(topic, partition)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS orders(
                order_id BLOB PRIMARY KEY, lsn INTEGER NOT NULL, content_digest BLOB NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS record_counts(
                kind INTEGER NOT NULL, reason INTEGER NOT NULL, count INTEGER NOT NULL,
                PRIMARY KEY(kind, reason)) WITHOUT ROWID;
            """)
    }

    private func statement(_ sql: String) throws -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        let prepared = try database.prepare(sql)
        statements[sql] = prepared
        return prepared
    }

    // MARK: Meta

    func meta(_ key: String) throws -> String? {
        try statement("SELECT value FROM meta WHERE key = ?").query([.text(key)]) { $0.text(0) }.first
    }

    func setMeta(_ key: String, _ value: String) throws {
        try statement("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .run([.text(key), .text(value)])
    }

    /// The last LSN whose record is fsynced and published; 0 for an empty ledger.
    func durableLSN() throws -> UInt64 { try meta("durable_lsn").flatMap { UInt64($0) } ?? 0 }

    func ledgerID() throws -> UUID? { try meta("ledger_id").flatMap { UUID(uuidString: $0) } }

    /// The LSN through which every accepted order is in the order index (0 for an empty ledger).
    func ordersLSN() throws -> UInt64 { try meta("orders_lsn").flatMap { UInt64($0) } ?? 0 }

    // MARK: Publishing

    /// Writes one batch of durable facts and the new durable LSN in one SQLite transaction.
    func publish(_ batch: IndexBatch) throws {
        try database.transaction {
            for segment in batch.segments { try upsert(segment) }
            let frame = try statement("INSERT INTO frames VALUES(?, ?, ?, ?, ?, ?, ?)")
            for row in batch.frames {
                try frame.run([
                    .integer(Int64(row.firstLSN)), .integer(Int64(row.segmentFirstLSN)), .integer(row.byteOffset),
                    .integer(Int64(row.recordCount)), .integer(Int64(row.storedBytes)), .integer(Int64(row.rawBytes)),
                    .integer(Int64(row.crc)),
                ])
            }
            try insertOrdersInTransaction(batch.orders)
            try publishWatermarks(batch.watermarks)
            try publishCounts(batch.counts)
            try setMeta("durable_lsn", String(batch.durableLSN))
            if let ordersLSN = batch.ordersLSN { try setMeta("orders_lsn", String(ordersLSN)) }
        }
    }

    /// Inserts orders ahead of the batch that publishes them: recovery hands them over in bounded batches, so
    /// that rebuilding the index of any ledger holds a bounded number in memory. Nothing reads an order whose
    /// LSN is past the durable LSN (the writer keeps its own; readers check `orders_lsn`).
    func insertOrders(_ orders: [IndexedOrder]) throws {
        try database.transaction { try insertOrdersInTransaction(orders) }
    }

    private func insertOrdersInTransaction(_ orders: [IndexedOrder]) throws {
        // OR IGNORE: recovery re-inserts the orders of a batch a crash interrupted (OrderIndexBacklog).
        let order = try statement("INSERT OR IGNORE INTO orders VALUES(?, ?, ?)")
        // In key order: each B-tree leaf is then visited once per batch, in sequence, instead of at random.
        for row in orders.sorted(by: { Self.keyOrder($0.orderID) < Self.keyOrder($1.orderID) }) {
            try withUnsafeBytes(of: row.orderID.uuid) { orderID in
                try row.contentDigest.withBytes { try order.run(blob: orderID, Int64(row.lsn), blob: $0) }
            }
        }
    }

    /// A UUID as SQLite orders its 16-byte blob (memcmp): the bytes read as two big-endian integers.
    static func keyOrder(_ orderID: UUID) -> (UInt64, UInt64) {
        withUnsafeBytes(of: orderID.uuid) {
            (
                UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)),
                UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            )
        }
    }

    private func upsert(_ segment: SegmentRow) throws {
        try statement("INSERT OR REPLACE INTO segments VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").run([
            .integer(Int64(segment.firstLSN)), .text(segment.fileName), .integer(Int64(bitPattern: segment.lastLSN)),
            .integer(Int64(segment.frameCount)), .integer(segment.byteLength), .integer(segment.sealed ? 1 : 0),
            .integer(Int64(segment.previousDigest)), .integer(Int64(segment.digest)),
            .integer(segment.createdAtMicroseconds),
            segment.ingestTimeRange.map { .integer($0.lowerBound) } ?? .null,
            segment.ingestTimeRange.map { .integer($0.upperBound) } ?? .null,
            segment.eventTimeRange.map { .integer($0.lowerBound) } ?? .null,
            segment.eventTimeRange.map { .integer($0.upperBound) } ?? .null,
        ])
    }

    private func publishWatermarks(_ watermarks: PartitionMap<Watermark>) throws {
        let upsert = try statement(
            """
            INSERT INTO watermarks VALUES(?, ?, ?, ?) ON CONFLICT(topic, partition)
            DO UPDATE SET last_offset = excluded.last_offset, last_lsn = excluded.last_lsn
            """)
        for (key, mark) in watermarks.sorted(by: { $0.key < $1.key }) {
            try upsert.run([
                .text(key.topic), .integer(Int64(key.partition)), .integer(mark.offset), .integer(Int64(mark.lsn)),
            ])
        }
    }

    private func publishCounts(_ counts: RecordTally) throws {
        let add = try statement(
            """
            INSERT INTO record_counts VALUES(?, ?, ?) ON CONFLICT(kind, reason) DO UPDATE SET count = count + excluded.count
            """)
        for (key, count) in counts.sorted(by: { $0.key < $1.key }) {
            try add.run([.integer(Int64(key.kind)), .integer(Int64(key.reason)), .integer(Int64(count))])
        }
    }

    // MARK: Queries

    func watermarks() throws -> [TopicPartition: Watermark] {
        let rows = try statement("SELECT topic, partition, last_offset, last_lsn FROM watermarks").query([]) {
            (
                TopicPartition(topic: $0.text(0), partition: Int32($0.integer(1))),
                Watermark(offset: $0.integer(2), lsn: UInt64($0.integer(3)))
            )
        }
        return Dictionary(uniqueKeysWithValues: rows)
    }

    /// The LSN of the accepted record for `orderID`, if any (readers: they need no digest).
    func acceptedLSN(_ orderID: UUID) throws -> UInt64? {
        try statement("SELECT lsn FROM orders WHERE order_id = ?").query([.blob(orderID.bytes)]) {
            UInt64($0.integer(0))
        }.first
    }

    /// The LSN and content digest of the accepted record for `orderID`, if any.
    func acceptedOrder(_ orderID: UUID) throws -> (lsn: UInt64, contentDigest: ContentDigest)? {
        let rows = try statement("SELECT lsn, content_digest FROM orders WHERE order_id = ?")
            .query([.blob(orderID.bytes)]) { (UInt64($0.integer(0)), ContentDigest(bytes: $0.blob(1))) }
        guard let (lsn, digest) = rows.first else { return nil }
        guard let digest else {
            throw LedgerError(
                .index, "the order index holds a content digest that is not 16 bytes",
                [("order_id", orderID.uuidString.lowercased()), ("lsn", String(lsn))])
        }
        return (lsn, digest)
    }

    func segments() throws -> [SegmentRow] {
        try statement("SELECT * FROM segments ORDER BY first_lsn").query([]) { row in
            SegmentRow(
                firstLSN: UInt64(row.integer(0)), fileName: row.text(1), lastLSN: UInt64(bitPattern: row.integer(2)),
                frameCount: Int(row.integer(3)), byteLength: row.integer(4), sealed: row.integer(5) != 0,
                previousDigest: UInt32(truncatingIfNeeded: row.integer(6)),
                digest: UInt32(truncatingIfNeeded: row.integer(7)),
                createdAtMicroseconds: row.integer(8),
                ingestTimeRange: row.isNull(9) ? nil : row.integer(9)...row.integer(10),
                eventTimeRange: row.isNull(11) ? nil : row.integer(11)...row.integer(12))
        }
    }

    /// The frame holding `lsn`: its segment and byte offset.
    func frame(containing lsn: UInt64) throws -> FrameRow? {
        try statement("SELECT * FROM frames WHERE first_lsn <= ? ORDER BY first_lsn DESC LIMIT 1").query([
            .integer(Int64(lsn))
        ]) { row in
            FrameRow(
                firstLSN: UInt64(row.integer(0)), segmentFirstLSN: UInt64(row.integer(1)), byteOffset: row.integer(2),
                recordCount: UInt32(row.integer(3)), storedBytes: UInt32(row.integer(4)),
                rawBytes: UInt32(row.integer(5)),
                crc: UInt32(truncatingIfNeeded: row.integer(6)))
        }.first.flatMap { lsn <= $0.lastLSN ? $0 : nil }
    }

    /// Every accepted order_id, to fill the writer's in-memory filter at open.
    func forEachAcceptedOrder(_ body: (UUID) -> Void) throws {
        let select = try database.prepare("SELECT order_id FROM orders")
        try select.bind([])
        while try select.step() {
            let bytes = select.blob(0)
            if bytes.count == 16 { body(bytes.withUnsafeBytes { UUID(bytes: $0) }) }
        }
    }

    func recordCounts() throws -> [RecordCountKey: Int] {
        let rows = try statement("SELECT kind, reason, count FROM record_counts").query([]) {
            (RecordCountKey(kind: UInt8($0.integer(0)), reason: UInt8($0.integer(1))), Int($0.integer(2)))
        }
        return Dictionary(uniqueKeysWithValues: rows)
    }

    /// Every row of every table as text, in a fixed order: two indexes are identical iff their dumps are equal.
    /// With `ordersThrough`, only orders up to that LSN are listed and `orders_lsn` is left out: the form in
    /// which an index whose order batch is still unpublished compares with a rebuilt one.
    func dump(ordersThrough: UInt64? = nil) throws -> [String] {
        var lines: [String] = []
        let ordersFilter = ordersThrough.map { "WHERE lsn <= \($0)" } ?? ""
        let metaFilter = ordersThrough == nil ? "" : "WHERE key <> 'orders_lsn'"
        for (table, filter, order) in [
            ("meta", metaFilter, "key"), ("segments", "", "first_lsn"), ("frames", "", "first_lsn"),
            ("watermarks", "", "topic, partition"), ("orders", ordersFilter, "order_id"),
            ("record_counts", "", "kind, reason"),
        ] {
            let select = try database.prepare("SELECT * FROM \(table) \(filter) ORDER BY \(order)")
            lines += try select.query([]) { row in
                table + "|" + (0..<row.columnCount).map { row.description($0) }.joined(separator: "|")
            }
        }
        return lines
    }
}

extension LedgerIndex {
    /// The path of the live index in `directory`, or `notCreated` saying what cannot be known without it.
    static func requiredPath(in directory: String, fileSystem: any FileSystem, without consequence: String) throws
        -> String
    {
        let path = directory + "/" + fileName
        guard fileSystem.fileExists(path) else {
            throw LedgerError(
                .notCreated,
                "no ledger index; is this a ledger directory? \(consequence) (`ledger-tool rebuild index` recreates it)",
                [("path", path)])
        }
        return path
    }

    /// Deletes the index files (database, WAL and shared-memory files).
    static func remove(directory: String, fileName: String = LedgerIndex.fileName, fileSystem: any FileSystem) throws {
        for suffix in ["", "-wal", "-shm"] {
            let path = directory + "/" + fileName + suffix
            if fileSystem.fileExists(path) { try fileSystem.remove(path) }
        }
    }
}
