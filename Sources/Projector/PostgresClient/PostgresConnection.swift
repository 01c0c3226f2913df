import CLibPQ
import Foundation
import OperatingErrors

// The only module that imports CLibPQ. Every libpq call goes through this file, which
// sorts failures into "bug → precondition" and "fault → WarehouseError" and never lets a C type out.
//
// Ownership: a `PostgresConnection` owns its `PGconn` (created in `init`, released by `PQfinish` in `deinit` and
// nowhere else); a `PostgresResult` owns one `PGresult` (released by `PQclear` in its `deinit`). Results never
// outlive the call that produced them: their values are copied into Swift values first.

/// The rows a statement returned, copied out of libpq as text (PostgreSQL's text output format).
package struct PostgresRows: Sendable {
    package let columns: [String]
    package let values: [[String?]]
    /// Rows inserted, updated, deleted or copied, as the command tag reports it (0 for a plain SELECT).
    package let affectedRows: Int

    package var count: Int { values.count }

    /// The value of `column` in row `row`; nil for SQL NULL. Asking for a column the statement did not select
    /// is a bug in the caller.
    package func value(_ row: Int, _ column: String) -> String? {
        guard let index = columns.firstIndex(of: column) else {
            preconditionFailure("no column \(column) in \(columns)")
        }
        return values[row][index]
    }

    /// The first column of the first row, nil when there is no row or it is NULL.
    package var scalar: String? { values.first?.first ?? nil }
}

/// Owns one PGresult. Only this file creates them.
private final class PostgresResult {
    package let handle: OpaquePointer?

    package init(_ handle: OpaquePointer?) { self.handle = handle }
    deinit { PQclear(handle) }

    package var status: ExecStatusType { PQresultStatus(handle) }

    package func field(_ code: UInt8) -> String? {
        PQresultErrorField(handle, Int32(code)).map { String(cString: $0) }
    }

    package func rows() -> PostgresRows {
        let columnCount = Int(PQnfields(handle))
        let rowCount = Int(PQntuples(handle))
        let columns = (0..<columnCount).map { String(cString: PQfname(handle, Int32($0))) }
        var values: [[String?]] = []
        values.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            values.append(
                (0..<columnCount).map { column in
                    PQgetisnull(handle, Int32(row), Int32(column)) == 1
                        ? nil : String(cString: PQgetvalue(handle, Int32(row), Int32(column)))
                })
        }
        let tag = String(cString: PQcmdTuples(handle))
        return PostgresRows(columns: columns, values: values, affectedRows: Int(tag) ?? 0)
    }
}

/// A PostgreSQL connection string (`postgres://` URL or `key=value` pairs) as it may be shown: parsed by libpq
/// itself (`PQconninfoParse`), every option libpq marks as secret (password, sslpassword) left out. A regex
/// leaked passwords it did not expect (`password='a b'`, an `@` inside a URL's password).
public enum ConnectionString {
    public static func redacted(_ connectionString: String) -> String {
        // "postgres://user:p@ss@host": libpq reads password "p" and host "ss@host", and the rest of what the
        // operator meant as the password would show as the host. An unencoded '@' in a URL's password shows nothing.
        if hasAmbiguousUserInfo(connectionString) {
            return "(a connection URL with an unencoded '@' in its user or password)"
        }
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(connectionString, &error) else {
            if let error { PQfreemem(error) }
            // Unparseable: nothing of it is shown, since any part of it may be a secret.
            return "(an unparseable connection string)"
        }
        defer { PQconninfoFree(options) }
        var shown: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            let isSecret = option.pointee.dispchar.map { String(cString: $0) == "*" } ?? false
            if !isSecret, let value = option.pointee.val {
                shown.append("\(String(cString: keyword))=\(String(cString: value))")
            }
            option += 1
        }
        return shown.joined(separator: " ")
    }

    /// A libpq error message about `connectionString`, with every secret value it holds removed: libpq quotes
    /// fragments of a malformed connection string in its messages.
    package static func redacted(message: String, about connectionString: String) -> String {
        var result = message
        for secret in secrets(of: connectionString) where !secret.isEmpty {
            result = result.replacingOccurrences(of: secret, with: "***")
        }
        // A string libpq could not parse (or read other than meant) yields no secrets to look for: hide every
        // quoted fragment instead, and the '@'-ambiguous URL's user information.
        if hasAmbiguousUserInfo(connectionString) {
            return "(\(message.count) characters about a connection URL not shown)"
        }
        if PQconninfoParse(connectionString, nil).map({
            PQconninfoFree($0)
            return false
        }) ?? true {
            result = result.replacingOccurrences(of: #""[^"]*""#, with: "\"***\"", options: .regularExpression)
        }
        return result
    }

    private static func hasAmbiguousUserInfo(_ connectionString: String) -> Bool {
        guard let scheme = ["postgresql://", "postgres://"].first(where: { connectionString.hasPrefix($0) }) else {
            return false
        }
        let authority = connectionString.dropFirst(scheme.count).prefix { $0 != "/" && $0 != "?" }
        return authority.filter { $0 == "@" }.count > 1
    }

    /// The secret values of a connection string: as libpq reads them, and a URL's password as it is written
    /// (percent-encoded), since a message may quote either.
    private static func secrets(of connectionString: String) -> [String] {
        var written: [String] = []
        if let scheme = ["postgresql://", "postgres://"].first(where: { connectionString.hasPrefix($0) }) {
            let authority = connectionString.dropFirst(scheme.count).prefix { $0 != "/" && $0 != "?" }
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                written.append(String(authority[authority.index(after: colon)..<at]))
            }
        }
        return written + parsedSecrets(of: connectionString)
    }

    private static func parsedSecrets(of connectionString: String) -> [String] {
        guard let options = PQconninfoParse(connectionString, nil) else { return [] }
        defer { PQconninfoFree(options) }
        var values: [String] = []
        var option = options
        while option.pointee.keyword != nil {
            if option.pointee.dispchar.map({ String(cString: $0) == "*" }) ?? false, let value = option.pointee.val {
                values.append(String(cString: value))
            }
            option += 1
        }
        return values
    }
}

/// One connection to PostgreSQL. Not thread-safe: one owner (the projection thread, or a tool's main thread)
/// drives it. Blocking: keep it off the Swift concurrency pool.
package final class PostgresConnection {
    private let handle: OpaquePointer
    /// `user@host:port/database`, for logs. Never holds the password.
    package let target: String

    /// Connects to `url` (a `postgres://` URL or a `key=value` connection string). libpq reads the password
    /// from the URL, `PGPASSWORD` or `~/.pgpass`; it never reaches a log: failures show the redacted URL.
    package init(url: String, applicationName: String) throws {
        // Keywords are applied in order and later ones win: the defaults come before `dbname` (which expands the
        // URL) so the operator's URL can override them; client_encoding comes after, because every byte this
        // code sends and reads is UTF-8.
        let settings: [(String, String)] = [
            ("application_name", applicationName),
            ("connect_timeout", String(PostgresLimits.connectTimeoutSeconds)),
            // A server that vanished without closing the socket (host down, network cut) is noticed within
            // ~25 s instead of the kernel's two hours.
            ("keepalives", "1"), ("keepalives_idle", "10"), ("keepalives_interval", "5"), ("keepalives_count", "3"),
            ("dbname", url),
            ("client_encoding", "UTF8"),
        ]
        let keywords = settings.map { strdup($0.0) }
        let values = settings.map { strdup($0.1) }
        defer { for pointer in keywords + values { free(pointer) } }
        let connection: OpaquePointer? = (keywords + [nil]).map { UnsafePointer($0) }.withUnsafeBufferPointer {
            keywordPointers in
            (values + [nil]).map { UnsafePointer($0) }.withUnsafeBufferPointer { valuePointers in
                PQconnectdbParams(keywordPointers.baseAddress, valuePointers.baseAddress, 1)
            }
        }
        guard let connection else {
            // libpq returns NULL only when it cannot allocate its connection object.
            throw WarehouseError(
                .connectionFailed, "libpq could not allocate a connection",
                [("postgres", ConnectionString.redacted(url))])
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw WarehouseError(
                .connectionFailed, "cannot connect to PostgreSQL",
                [
                    ("postgres", ConnectionString.redacted(url)),
                    ("cause", ConnectionString.redacted(message: message, about: url)),
                ])
        }
        handle = connection
        // Server notices ("relation already exists, skipping") would go to stderr unstructured: drop them.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        let host = PQhost(handle).map { String(cString: $0) } ?? "?"
        let port = PQport(handle).map { String(cString: $0) } ?? "?"
        let database = PQdb(handle).map { String(cString: $0) } ?? "?"
        let user = PQuser(handle).map { String(cString: $0) } ?? "?"
        target = "\(user)@\(host):\(port)/\(database)"
        // Timestamps are read back as UTC text everywhere: every session of this code runs in UTC.
        try execute("SET TimeZone TO 'UTC'")
    }

    deinit { PQfinish(handle) }

    /// Whether the connection is still usable as far as libpq knows (it learns of a drop on the next call).
    package var isOK: Bool { PQstatus(handle) == CONNECTION_OK }

    /// The server's major version number, e.g. 15.
    package var serverMajorVersion: Int { Int(PQserverVersion(handle)) / 10_000 }

    // MARK: Statements

    /// Runs SQL without parameters: DDL, transaction control, a whole migration file (several statements).
    package func execute(_ sql: String) throws {
        let result = PostgresResult(PQexec(handle, sql))
        try check(result, sql: sql, expecting: [PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY])
    }

    /// Runs one statement with parameters `$1, $2, …` sent separately from the SQL text (text format; nil is
    /// NULL). Values are never spliced into SQL.
    @discardableResult
    package func query(_ sql: String, _ parameters: [String?] = []) throws -> PostgresRows {
        let copies = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { for copy in copies { free(copy) } }
        let raw = copies.map { UnsafePointer($0) }.withUnsafeBufferPointer { pointers in
            PQexecParams(handle, sql, Int32(parameters.count), nil, pointers.baseAddress, nil, nil, 0)
        }
        let result = PostgresResult(raw)
        try check(result, sql: sql, expecting: [PGRES_COMMAND_OK, PGRES_TUPLES_OK])
        return result.rows()
    }

    // MARK: COPY

    /// Runs `COPY … FROM STDIN (FORMAT binary)`: `body` appends tuples to the buffer and calls `flushIfFull`
    /// as it goes, so memory stays bounded by `PostgresLimits.copyChunkBytes`. Returns the rows copied. If
    /// `body` throws, the COPY is aborted (the server fails the statement) and the error is rethrown.
    @discardableResult
    package func copyIn(_ sql: String, _ body: (CopyInStream) throws -> Void) throws -> Int {
        let start = PostgresResult(PQexec(handle, sql))
        try check(start, sql: sql, expecting: [PGRES_COPY_IN])
        let stream = CopyInStream(connection: self)
        stream.buffer.appendHeader()
        do {
            try body(stream)
            stream.buffer.appendTrailer()
            try stream.flush()
        } catch {
            _ = PQputCopyEnd(handle, "aborted by the projector")
            drainResults()
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else { throw connectionError(sql: sql) }
        let end = PostgresResult(PQgetResult(handle))
        drainResults()
        try check(end, sql: sql, expecting: [PGRES_COMMAND_OK])
        return end.rows().affectedRows
    }

    fileprivate func send(_ bytes: UnsafeRawBufferPointer, sql: String) throws {
        let sent = PQputCopyData(handle, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        // 0 only happens on a non-blocking connection; this one blocks.
        guard sent == 1 else { throw connectionError(sql: sql) }
    }

    /// Reads results until libpq says the command is complete (required before the next command).
    private func drainResults() {
        while let next = PQgetResult(handle) { PQclear(next) }
    }

    // MARK: Errors

    private func check(_ result: PostgresResult, sql: String, expecting statuses: [ExecStatusType]) throws {
        guard result.handle != nil else { throw connectionError(sql: sql) }
        if statuses.contains(result.status) { return }
        let failed = [PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE].contains(result.status)
        precondition(
            failed,
            "statement \(Self.summary(sql)) returned status \(result.status.rawValue), not one of \(statuses.map(\.rawValue))"
        )
        guard let state = result.field(UInt8(ascii: "C")) else { throw connectionError(sql: sql) }
        var context: [(String, String)] = [("sqlstate", state), ("statement", Self.summary(sql))]
        if let detail = result.field(UInt8(ascii: "D")) { context.append(("detail", detail)) }
        if let constraint = result.field(UInt8(ascii: "n")) { context.append(("constraint", constraint)) }
        let message = result.field(UInt8(ascii: "M")) ?? Self.trimmed(PQerrorMessage(handle))
        // A failure class that says the session is gone is a connection failure, whatever the statement.
        let code: WarehouseError.Code = state.hasPrefix("08") || state.hasPrefix("57P") ? .connectionFailed : .postgres
        throw WarehouseError(code, message, context)
    }

    private func connectionError(sql: String) -> WarehouseError {
        WarehouseError(
            .connectionFailed, "the connection to PostgreSQL failed",
            [("postgres", target), ("cause", Self.trimmed(PQerrorMessage(handle))), ("statement", Self.summary(sql))])
    }

    /// The first line of a statement, short: enough to tell which one failed. Statements carry no values
    /// (those are parameters), so this never shows data or secrets.
    package static func summary(_ sql: String) -> String {
        let line =
            sql.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first {
                !$0.isEmpty && !$0.hasPrefix("--")
            } ?? ""
        return line.count > 100 ? String(line.prefix(100)) + "…" : line
    }

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        message.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
    }
}

/// The data side of one `COPY … FROM STDIN`: valid only inside `PostgresConnection.copyIn`'s body.
package final class CopyInStream {
    private unowned let connection: PostgresConnection
    package var buffer = BinaryCopyBuffer(capacity: PostgresLimits.copyChunkBytes + 64 * 1024)

    fileprivate init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Sends the buffered bytes once there are at least `PostgresLimits.copyChunkBytes` of them.
    package func flushIfFull() throws {
        if buffer.count >= PostgresLimits.copyChunkBytes { try flush() }
    }

    package func flush() throws {
        guard buffer.count > 0 else { return }
        try connection.send(buffer.written, sql: "COPY")
        buffer.removeAll()
    }
}
