/// Compares two indexes table by table in one ordered pass over each, in memory bounded by one row a side:
/// `verify` compares the live index with one rebuilt from the segments, for ledgers of any size (comparing
/// whole dumps held as string arrays needed memory in proportion to the ledger, and quadratic time).
struct IndexComparison {
    /// Rows that differ: "-" only in the live index, "+" only in the rebuilt one. At most `keptMax` are kept.
    private(set) var differences: [String] = []
    private(set) var differenceCount = 0
    private let keptMax: Int

    /// One table: its merge key (text whose byte order is the order of `orderBy`, so both sides can be stepped
    /// in step), the rows compared, and that order (the primary key: no sort needed).
    private struct Table {
        var name: String
        var key: String
        var filter: String
        var orderBy: String
    }

    /// Orders are compared through `ordersThrough` (orders past the live index's `orders_lsn` are legitimately
    /// missing after a crash: the next open inserts them), and `orders_lsn` itself is left out.
    private static func tables(ordersThrough: UInt64) -> [Table] {
        [
            Table(name: "meta", key: "hex(key)", filter: "WHERE key <> 'orders_lsn'", orderBy: "key"),
            Table(name: "segments", key: "printf('%020d', first_lsn)", filter: "", orderBy: "first_lsn"),
            Table(name: "frames", key: "printf('%020d', first_lsn)", filter: "", orderBy: "first_lsn"),
            // '/' sorts below every hex digit: a topic that is a prefix of another comes first, as in memcmp.
            Table(
                name: "watermarks", key: "hex(topic) || '/' || printf('%011d', partition + 2147483648)", filter: "",
                orderBy: "topic, partition"),
            Table(name: "orders", key: "hex(order_id)", filter: "WHERE lsn <= \(ordersThrough)", orderBy: "order_id"),
            Table(name: "record_counts", key: "printf('%03d/%03d', kind, reason)", filter: "", orderBy: "kind, reason"),
        ]
    }

    /// Compares `live` (read inside the caller's snapshot) with `rebuilt`.
    init(live: LedgerIndex, rebuilt: LedgerIndex, ordersThrough: UInt64, keptMax: Int = 20) throws {
        self.keptMax = keptMax
        for table in Self.tables(ordersThrough: ordersThrough) {
            try compare(table, live: live.database, rebuilt: rebuilt.database)
        }
    }

    private mutating func compare(_ table: Table, live: SQLiteDatabase, rebuilt: SQLiteDatabase) throws {
        let sql = "SELECT \(table.key), * FROM \(table.name) \(table.filter) ORDER BY \(table.orderBy)"
        let left = try RowStream(live.prepare(sql), table: table.name)
        let right = try RowStream(rebuilt.prepare(sql), table: table.name)
        while let liveRow = left.current, let rebuiltRow = right.current {
            if liveRow.key == rebuiltRow.key {
                if liveRow.text != rebuiltRow.text {
                    note("- " + liveRow.text)
                    note("+ " + rebuiltRow.text)
                }
                try left.advance()
                try right.advance()
            } else if liveRow.key < rebuiltRow.key {
                note("- " + liveRow.text)
                try left.advance()
            } else {
                note("+ " + rebuiltRow.text)
                try right.advance()
            }
        }
        while let row = left.current {
            note("- " + row.text)
            try left.advance()
        }
        while let row = right.current {
            note("+ " + row.text)
            try right.advance()
        }
    }

    private mutating func note(_ difference: String) {
        differenceCount += 1
        if differences.count < keptMax { differences.append(difference) }
    }

    /// One side of the merge: the row under the cursor.
    private final class RowStream {
        struct Row {
            var key: String
            var text: String
        }

        private let statement: SQLiteStatement
        private let table: String
        /// nil once the rows are exhausted.
        private(set) var current: Row?

        init(_ statement: SQLiteStatement, table: String) throws {
            self.statement = statement
            self.table = table
            try statement.bind([])
            try advance()
        }

        func advance() throws {
            guard try statement.step() else {
                current = nil
                return
            }
            let columns = (1..<statement.columnCount).map { statement.description($0) }
            current = Row(key: statement.text(0), text: table + "|" + columns.joined(separator: "|"))
        }
    }
}
