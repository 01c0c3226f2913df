import CSQLite
import Glibc
import OperatingErrors

/// A SQLite connection. The only file that imports CSQLite; the handle has one owner and is closed in `deinit`.
/// Every failing call becomes a `LedgerError` with code `.index`, the SQLite message and the database path.
final class SQLiteDatabase {
    let path: String
    private let handle: OpaquePointer

    init(path: String, readOnly: Bool = false) throws {
        // SQLite creates a database with mode 0644 (and its -wal and -shm with the database's mode): the index
        // holds order ids and source coordinates, so it is created first with the ledger's own file mode.
        if !readOnly {
            let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, PosixFileSystem.fileMode)
            if descriptor >= 0 { Glibc.close(descriptor) }
        }
        var handle: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let status = sqlite3_open_v2(path, &handle, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw LedgerError(.index, "cannot open index: \(message)", [("path", path)])
        }
        self.path = path
        self.handle = handle
        // Another process (the writer) may hold the write lock for a moment: wait rather than fail.
        sqlite3_busy_timeout(handle, 10_000)
    }

    deinit { sqlite3_close_v2(handle) }

    func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &message)
        guard status == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? "error \(status)"
            sqlite3_free(message)
            throw LedgerError(.index, "SQL failed: \(text)", [("path", path), ("sql", String(sql.prefix(120)))])
        }
    }

    func prepare(_ sql: String) throws -> SQLiteStatement {
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard status == SQLITE_OK, let statement else { throw error("prepare", sql: sql) }
        return SQLiteStatement(statement, database: self, sql: sql)
    }

    /// Runs `body` in one transaction (BEGIN IMMEDIATE … COMMIT), rolling back if it throws.
    func transaction<Result>(_ body: () throws -> Result) throws -> Result {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    fileprivate func error(_ call: String, sql: String) -> LedgerError {
        LedgerError(
            .index, "\(call) failed: \(String(cString: sqlite3_errmsg(handle)))",
            [("path", path), ("sql", String(sql.prefix(120)))])
    }
}

/// A prepared statement, owned by one caller and finalized in `deinit`. Parameters are 1-based, columns 0-based.
final class SQLiteStatement {
    private let statement: OpaquePointer
    private let database: SQLiteDatabase
    private let sql: String

    fileprivate init(_ statement: OpaquePointer, database: SQLiteDatabase, sql: String) {
        self.statement = statement
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(statement) }

    enum Value {
        case integer(Int64)
        case text(String)
        case blob([UInt8])
        case null
    }

    /// Binds `values` to parameters 1…n after resetting the statement.
    func bind(_ values: [Value]) throws {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            let status: Int32
            switch value {
            case .integer(let integer): status = sqlite3_bind_int64(statement, position, integer)
            case .text(let text): status = sqlite3_bind_text(statement, position, text, -1, sqliteTransient)
            case .blob(let bytes):
                status = bytes.withUnsafeBytes {
                    sqlite3_bind_blob(statement, position, $0.baseAddress, Int32($0.count), sqliteTransient)
                }
            case .null: status = sqlite3_bind_null(statement, position)
            }
            guard status == SQLITE_OK else { throw database.error("bind", sql: sql) }
        }
    }

    /// Runs an INSERT/UPDATE with (blob, integer, blob) parameters without building `Value`s: the order
    /// index's hot path, one call per accepted record. The blobs are bound in place (`SQLITE_STATIC`), not
    /// copied: a copy of each (a malloc, a memcpy and a free, twice a row) was ~2 % of the ingest thread (perf,
    /// 2026-12-07). SQLite reads bound bytes until they are rebound or cleared, so they are cleared before this
    /// returns, on every path: no binding outlives the buffers the caller lent.
    func run(blob first: UnsafeRawBufferPointer, _ second: Int64, blob third: UnsafeRawBufferPointer) throws {
        sqlite3_reset(statement)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        guard sqlite3_bind_blob(statement, 1, first.baseAddress, Int32(first.count), sqliteStatic) == SQLITE_OK,
            sqlite3_bind_int64(statement, 2, second) == SQLITE_OK,
            sqlite3_bind_blob(statement, 3, third.baseAddress, Int32(third.count), sqliteStatic) == SQLITE_OK,
            sqlite3_step(statement) == SQLITE_DONE
        else { throw database.error("insert", sql: sql) }
    }

    /// Steps once: true when a row is available, false when done.
    func step() throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.error("step", sql: sql)
        }
    }

    /// Binds, runs to completion and resets: for INSERT/UPDATE/DELETE.
    func run(_ values: [Value]) throws {
        try bind(values)
        while try step() {}
        sqlite3_reset(statement)
    }

    /// Binds and collects every row through `row`.
    func query<Row>(_ values: [Value], _ row: (SQLiteStatement) -> Row) throws -> [Row] {
        try bind(values)
        var rows: [Row] = []
        while try step() { rows.append(row(self)) }
        sqlite3_reset(statement)
        return rows
    }

    var columnCount: Int { Int(sqlite3_column_count(statement)) }
    func integer(_ column: Int) -> Int64 { sqlite3_column_int64(statement, Int32(column)) }
    func isNull(_ column: Int) -> Bool { sqlite3_column_type(statement, Int32(column)) == SQLITE_NULL }
    func text(_ column: Int) -> String {
        guard let pointer = sqlite3_column_text(statement, Int32(column)) else { return "" }
        return String(cString: pointer)
    }
    func blob(_ column: Int) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, Int32(column)))
        guard count > 0, let pointer = sqlite3_column_blob(statement, Int32(column)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Any column as text, for dumps that compare two indexes.
    func description(_ column: Int) -> String {
        switch sqlite3_column_type(statement, Int32(column)) {
        case SQLITE_NULL: "NULL"
        case SQLITE_INTEGER: String(integer(column))
        case SQLITE_BLOB: "x'" + blob(column).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + "'"
        default: "'" + text(column) + "'"
        }
    }
}

/// SQLITE_TRANSIENT: SQLite copies the bound bytes before the call returns.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
/// SQLITE_STATIC (a null destructor): SQLite uses the bound bytes where they are, until rebound or cleared.
private let sqliteStatic: sqlite3_destructor_type? = nil
