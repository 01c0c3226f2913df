import Foundation
import LedgerTesting
import Logging
import PostgresClient
import Testing

@testable import Projector

/// The PostgreSQL the tests run against: the throwaway cluster `scripts/test` starts (scripts/lib.sh,
/// `start_postgres`). Without it the warehouse tests FAIL with instructions; they never pass silently.
enum TestPostgres {
    struct Missing: Error, CustomStringConvertible {
        let variable: String
        var description: String {
            "\(variable) is not set: the warehouse tests need a real PostgreSQL. Run scripts/test (it starts one), or source scripts/lib.sh and call start_postgres first."
        }
    }

    static func environment(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw Missing(variable: name)
        }
        return value
    }

    /// The owner role's URL (the projector's role: it owns the warehouse schemas).
    static func url() throws -> String { try environment("PULSE_TEST_POSTGRES_URL") }
    /// The SELECT-only role's URL.
    static func readerURL() throws -> String { try environment("PULSE_TEST_POSTGRES_READER_URL") }

    static func connect(_ url: String? = nil) throws -> PostgresConnection {
        let connection = try PostgresConnection(url: url ?? self.url(), applicationName: "projector-tests")
        try connection.execute("SET TimeZone TO 'UTC'")
        return connection
    }

    /// Runs `body` with a fresh, uniquely named warehouse schema, dropped afterwards (with any rebuild leftovers).
    static func withSchema<T>(_ body: (WarehouseSchema) throws -> T) throws -> T {
        let schema = try WarehouseSchema(
            "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))
        defer {
            if let connection = try? connect() {
                for name in [schema.name, schema.name + "__rebuild"] {
                    try? connection.execute("DROP SCHEMA IF EXISTS \"\(name)\" CASCADE")
                }
            }
        }
        return try body(schema)
    }

    /// Restarts the server the way an operator or a crash would: `pg_ctl stop -m immediate`, a pause, start.
    static func restart(downFor seconds: Double) throws {
        let data = try environment("PULSE_TEST_POSTGRES_DATA")
        let bin = try environment("PULSE_TEST_POSTGRES_BIN")
        let log = try environment("PULSE_TEST_POSTGRES_LOG")
        try pgctl(bin, ["-D", data, "-m", "immediate", "-w", "stop"])
        Thread.sleep(forTimeInterval: seconds)
        try pgctl(bin, ["-D", data, "-l", log, "-w", "-t", "60", "start"])
    }

    /// pg_ctl, as the `postgres` user when we are root (the server refuses to run as root). Spawned and reaped
    /// with posix_spawn/waitpid: Foundation's Process sometimes never reaps a `runuser` whose grandchild (the
    /// server) outlives it, and waitUntilExit then hangs.
    private static func pgctl(_ bin: String, _ arguments: [String]) throws {
        let command =
            getuid() == 0
            ? ["/usr/sbin/runuser", "-u", "postgres", "--", bin + "/pg_ctl"] + arguments : [bin + "/pg_ctl"] + arguments
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let argv = command.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, command[0], &actions, nil, argv, environ) == 0 else {
            throw TestFailure("cannot run \(command[0])")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        guard status == 0 else {
            throw TestFailure("pg_ctl \(arguments.joined(separator: " ")) failed with wait status \(status)")
        }
    }
}

/// A failure a test reports as an error, with a message.

let quietLogger = Logger(label: "projector-tests", factory: { _ in SwiftLogNoOpLogHandler() })

extension PostgresConnection {
    /// The first column of the first row, as text; fails the test when there is no row.
    func text(_ sql: String, _ parameters: [String?] = []) throws -> String {
        guard let value = try query(sql, parameters).scalar else { throw TestFailure("no value from: \(sql)") }
        return value
    }

    func integer(_ sql: String, _ parameters: [String?] = []) throws -> Int {
        guard let value = Int(try text(sql, parameters)) else { throw TestFailure("not an integer from: \(sql)") }
        return value
    }
}

/// Projects `ledgers` into `schema` in this process until every durable record is in, as ledger-projector
/// --exit-when-caught-up would.
func projectInProcess(
    _ ledgers: [String], into schema: WarehouseSchema, quarantine: Bool = false,
    transactionRecords: Int = ProjectorLimits.transactionRecordsDefault
) throws {
    let configuration = ProjectorConfiguration(
        ledgerDirectories: ledgers, postgresURL: try TestPostgres.url(), schema: schema, quarantine: quarantine,
        transactionRecords: transactionRecords, exitWhenCaughtUp: true)
    try ProjectorService.runUntilCaughtUp(configuration: configuration, logger: quietLogger)
}

/// Work on a background thread (a ledger writer beside a projector); `join` waits and rethrows its error.
final class Background: @unchecked Sendable {
    // @unchecked: `error` is written by the thread before `done` is signalled and read only after waiting on it.
    private let done = DispatchSemaphore(value: 0)
    private var error: (any Error)?

    init(_ body: @escaping @Sendable () throws -> Void) {
        let thread = Thread { [self] in
            do { try body() } catch { self.error = error }
            done.signal()
        }
        thread.start()
    }

    func join() throws {
        done.wait()
        if let error { throw error }
    }
}

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// GET http://127.0.0.1:port/path: status and body.
func httpGet(port: Int, path: String) throws -> (status: Int, body: String) {
    final class Box: @unchecked Sendable {
        var result: (Int, String)?
        var error: (any Error)?
    }
    let box = Box()
    let done = DispatchSemaphore(value: 0)
    URLSession.shared.dataTask(with: URL(string: "http://127.0.0.1:\(port)\(path)")!) { data, response, error in
        box.error = error
        box.result = (
            (response as? HTTPURLResponse)?.statusCode ?? 0, data.map { String(decoding: $0, as: UTF8.self) } ?? ""
        )
        done.signal()
    }.resume()
    done.wait()
    if let error = box.error { throw error }
    return box.result ?? (0, "")
}
