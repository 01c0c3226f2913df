import Foundation
import LedgerTesting
import Projector

/// The real `ledger-projector` executable as a child process (so it can be killed with SIGKILL), built next to
/// the tests: `swift build --build-tests` (scripts/test) builds it, and a binary older than the Projector module
/// fails the test with how to rebuild it.
func startProjector(_ arguments: [String], logPath: String) throws -> ChildProcess {
    let metrics = arguments.contains("--metrics-port") ? [] : ["--metrics-port", "0"]
    _ = try BuiltProducts.path(of: "ledger-projector", newerThan: "Projector")
    return try ChildProcess(product: "ledger-projector", arguments + metrics, logPath: logPath)
}

/// The projector following the ledger in `directory` into `schema`, with /metrics on a free port. `batches`:
/// records per transaction and the poll interval, for tests that want many small commits; the log is text when
/// a test reads it by eye.
func startFollowingProjector(
    _ directory: String, into schema: WarehouseSchema, scratch: ScratchDirectory,
    batches: (records: Int, pollMilliseconds: Int)? = nil, textLog: Bool = false
) throws -> (process: ChildProcess, port: Int) {
    let port = try freePort()
    var arguments = [
        "--wal", directory, "--postgres", try TestPostgres.url(), "--schema", schema.name, "--metrics-port",
        String(port),
    ]
    if let batches {
        arguments += [
            "--transaction-records", String(batches.records), "--poll-interval-ms", String(batches.pollMilliseconds),
        ]
    }
    if textLog { arguments += ["--log-format", "text"] }
    return (try startProjector(arguments, logPath: scratch.file("projector.log")), port)
}

/// A generated ledger of `records` records (seeded) with the projector following it in small transactions
/// (`batches`), text log: the set-up of the tests that disturb a running projector.
func withFollowedLedger(
    seed: UInt64, records: Int, batches: (records: Int, pollMilliseconds: Int),
    _ body: (GeneratedLedger, WarehouseSchema, ChildProcess) throws -> Void
) throws {
    try withGeneratedLedger(seed: seed) { ledger, schema, scratch in
        try ledger.append(records)
        let projector = try startFollowingProjector(
            ledger.directory, into: schema, scratch: scratch, batches: batches, textLog: true
        ).process
        defer { _ = projector.stop() }
        try body(ledger, schema, projector)
    }
}
