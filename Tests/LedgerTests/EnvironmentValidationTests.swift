import Foundation
import LedgerTesting
import Testing

/// A service started with a malformed number in its environment stops at once and names the variable, instead
/// of running on the default (issue 13: `METRICS_PORT=abc` was ignored silently).
@Suite struct EnvironmentValidationTests {
    @Test(arguments: [
        ("ledger-ingest", "METRICS_PORT"), ("ledger-projector", "METRICS_PORT"),
        ("ledger-projector", "PROJECTOR_TRANSACTION_RECORDS"), ("ledger-projector", "PROJECTOR_POLL_INTERVAL_MS"),
        ("ledger-projector", "WAREHOUSE_RETENTION_DAYS"),
    ])
    func aMalformedNumberIsRefusedByName(product: String, variable: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try BuiltProducts.path(of: product))
        process.arguments =
            ["--wal", ScratchDirectory().file("never-opened")]
            + (product == "ledger-projector" ? ["--postgres", "postgres://nowhere/db"] : [])
        process.environment = ProcessInfo.processInfo.environment.merging([variable: "abc"]) { $1 }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Without the check the service would start on the default and wait for a broker or PostgreSQL forever.
        let stopped = eventually(seconds: 10) { !process.isRunning }
        if !stopped { process.terminate() }
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(stopped, "\(product) with \(variable)=abc did not stop")
        #expect(process.terminationStatus != 0)
        #expect(message.contains("\(variable)=abc is not a whole number"), "\(product): \(message)")
    }
}
