import ArgumentParser
import Foundation
import Ledger
import Projector

/// The end-to-end maximum rate: how fast a running ledger-ingest and a running ledger-projector, sharing the
/// machine, move a backlog from the topic into warehouse rows. From the first record's ingest time (when
/// ledger-ingest received it, which leaves out the consumer group's join delay) to the first poll that sees the
/// projector's checkpoint cover the whole backlog. The end-to-end latency goal is measured at half of this rate.
struct PipelineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract:
            "The end-to-end maximum rate: topic backlog → warehouse rows, with ingest and projector running together.")

    @Option(name: .customLong("wal"), help: "The ledger directory ledger-ingest writes (it may not exist yet).")
    var directory: String
    @Option(help: "PostgreSQL URL of the warehouse ledger-projector loads.") var warehouse: String
    @Option(help: "Warehouse schema.") var schema: String = WarehouseSchema.defaultName
    @Option(help: "Messages in the backlog: done when the warehouse holds this many records of the ledger.")
    var records: UInt64
    @Option(help: "Write the measured rate (msgs/s) alone to this file, for scripts.") var rateFile: String?

    /// Milliseconds between polls of the warehouse's checkpoint: the resolution of the figure, 0.1-0.2 % of a
    /// backlog that takes 5-8 s. Each poll is a query that PostgreSQL answers on the same two cores as the pipeline
    /// being measured, so they are not made more often than the figure needs (it was 1 ms: 1,000 queries a second).
    static let pollIntervalMilliseconds = 10.0
    /// Longest the backlog may take before the run is declared failed, in seconds.
    static let timeoutSeconds = 300.0

    func run() throws {
        let started = Date()
        let reader = try openWhenCreated(started: started)
        let probe = try CheckpointProbe(
            postgresURL: warehouse, schema: WarehouseSchema(schema), applicationName: "ledger-bench pipeline")
        // Until ledger-projector has migrated the warehouse its checkpoint table does not exist: errors are
        // retried until the timeout, which reports the last one.
        var lastError: (any Error)?
        func projected() -> UInt64 {
            do { return try probe.projectedLSN(of: reader.ledgerID) } catch {
                lastError = error
                return 0
            }
        }
        while projected() < records {
            guard Date().timeIntervalSince(started) < Self.timeoutSeconds else {
                throw ValidationError(
                    "the warehouse did not reach \(records) records of the ledger in \(Int(Self.timeoutSeconds)) s\(lastError.map { " (last error: \($0))" } ?? "")"
                )
            }
            Thread.sleep(forTimeInterval: Self.pollIntervalMilliseconds / 1000)
        }
        let finished = Date().timeIntervalSince1970
        guard let first = try reader.cursor(from: 1).next(maxRecords: 1).first else {
            throw ValidationError("the ledger is empty")
        }
        let seconds = finished - Double(first.record.ingestTimeMicroseconds) / 1_000_000
        let rate = Double(records) / seconds
        if let rateFile {
            try String(format: "%.0f\n", rate).write(toFile: rateFile, atomically: true, encoding: .utf8)
        }
        print(
            "| end-to-end maximum: topic backlog → warehouse rows, ingest and projector together (msgs/s, \(grouped(Double(records))) messages) | \(grouped(rate)) | \(String(format: "%.2f", seconds)) s |  | the rate the latency goal takes half of |"
        )
    }

    /// ledger-ingest creates the ledger when it starts: wait for it.
    private func openWhenCreated(started: Date) throws -> LedgerReader {
        while true {
            if FileManager.default.fileExists(atPath: directory + "/index.sqlite"),
                let reader = try? LedgerReader(directory: directory)
            {
                return reader
            }
            guard Date().timeIntervalSince(started) < Self.timeoutSeconds else {
                throw ValidationError("no ledger appeared in \(directory)")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }
}
