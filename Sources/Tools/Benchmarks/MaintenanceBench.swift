import ArgumentParser
import Foundation
import Ledger
import LedgerTesting

/// `ledger-tool verify` and `rebuild index` on a large ledger, as the operator runs them: time and peak memory of
/// each process (the kernel's accounting, `wait4`), next to the ledger's own size, so that memory in proportion
/// to the ledger would show.
struct MaintenanceBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maintenance",
        abstract: "Time and peak memory of ledger-tool verify and rebuild index on a ledger of --records records.")

    @Option(help: "Records in the ledger.") var records = 10_000_000
    @Option(help: "Scratch directory (removed afterwards).") var scratch =
        NSTemporaryDirectory() + "pulse-maintenance-bench"

    func run() throws {
        try? FileManager.default.removeItem(atPath: scratch)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let directory = scratch + "/ledger"
        let filled = try fill(directory)
        let tool = (CommandLine.arguments[0] as NSString).deletingLastPathComponent + "/ledger-tool"
        let verify = try MeasuredRun(tool, ["verify", "--wal", directory])
        let rebuild = try MeasuredRun(tool, ["rebuild", "index", "--wal", directory])
        let stats = try LedgerMaintenance.stats(directory: directory)
        let ledgerBytes = Double(stats.segmentBytes + stats.indexBytes)
        let size =
            "ledger \(grouped(Double(stats.segmentBytes) / 1e6)) MB of segments + \(grouped(Double(stats.indexBytes) / 1e6)) MB of index"
        FileHandle.standardError.write(
            Data("filled \(grouped(Double(records))) records in \(decimal(filled)) s\n".utf8))
        print("| measure | Pulse Ledger | limit (same run) | ratio | goal |")
        print("|---|---|---|---|---|")
        for (name, measurement) in [("ledger-tool verify", verify), ("ledger-tool rebuild index", rebuild)] {
            let peakBytes = Double(measurement.peakResidentKibibytes) * 1024
            print(
                "| \(name), \(grouped(Double(records))) records (time, peak resident memory; exit \(measurement.status)) "
                    + "| \(decimal(measurement.seconds)) s, \(decimal(peakBytes / 1_048_576, digits: 0)) MiB | \(size) "
                    + "| peak \(decimal(peakBytes / ledgerBytes, digits: 3))× the ledger's bytes | memory bounded whatever the ledger's size |"
            )
        }
    }

    /// Appends `records` generated orders (2% invalid, 1% repeated) the way ingest does, committing every group.
    private func fill(_ directory: String) throws -> TimeInterval {
        var generator = MessageGenerator(seed: 7, invalidRatio: 0.02, duplicateRatio: 0.01)
        let appender = LedgerAppender(writer: try LedgerWriter(directory: directory))
        let started = Date()
        let progress = Int(max(1, records / 10))
        for number in 0..<records {
            let (value, _) = generator.next()
            let source = SourceCoordinates(
                topic: "transactions", partition: Int32(number % 12), offset: Int64(number / 12))
            _ = try appender.append(
                value: value, source: source, ingestTimeMicroseconds: 1_705_314_700_000_000 + Int64(number))
            if (number + 1) % Limits.groupCommitRecordsMax == 0 { try appender.commit() }
            if (number + 1) % progress == 0 {
                FileHandle.standardError.write(Data("filled \(number + 1) records\n".utf8))
            }
        }
        try appender.close()
        return Date().timeIntervalSince(started)
    }
}
