import ArgumentParser
import Foundation
import Ledger
import Logging

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every segment, the chain of digests, and the index against the segments.",
        discussion: "Takes the writer lock (stop ledger-ingest first) and never modifies the ledger. Exits 1 on any problem.")

    @OptionGroup var ledger: LedgerDirectoryOptions

    func run() throws {
        let report = try LedgerMaintenance.verify(directory: ledger.directory)
        print("segments \(report.segments), records \(grouped(report.records)), index durable LSN \(report.durableLSN)")
        print("frames, checksums, chain and footers: ok")
        guard report.isConsistent else {
            print("index differs from the segments (\(report.indexDifferences.count) rows; `ledger-tool rebuild index` recreates it):")
            for line in report.indexDifferences.prefix(20) { print("  " + line) }
            throw ExitCode(1)
        }
        print("index: identical to one rebuilt from the segments")
    }
}

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Counts per record kind and reason, LSN range, bytes on disk, bytes per record.")

    @OptionGroup var ledger: LedgerDirectoryOptions

    func run() throws {
        let stats = try LedgerMaintenance.stats(directory: ledger.directory)
        print("ledger \(stats.ledgerID)")
        print("  LSN range        \(stats.firstLSN.map { "\($0)...\(stats.durableLSN)" } ?? "empty")")
        print("  segments         \(stats.segments), \(grouped(stats.segmentBytes)) bytes; index \(grouped(stats.indexBytes)) bytes")
        print("  bytes per record \(decimal(stats.bytesPerRecord))")
        if let range = stats.ingestTimeRange {
            let seconds = Double(range.upperBound - range.lowerBound) / 1e6
            print("  ingest time      \(RFC3339.format(microsecondsSinceEpoch: range.lowerBound)) ... \(RFC3339.format(microsecondsSinceEpoch: range.upperBound)) (\(decimal(seconds, digits: 3)) s)")
        }
        for entry in stats.counts {
            let name = entry.reason.map { "\(entry.kind) \($0.code)" } ?? entry.kind.description
            print("  \(name.padding(toLength: 36, withPad: " ", startingAt: 0)) \(grouped(entry.count))")
        }
        for (partition, mark) in stats.watermarks.sorted(by: { $0.key < $1.key }) {
            print("  watermark \(partition) offset \(mark.offset) at LSN \(mark.lsn)")
        }
    }
}

struct RebuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild", abstract: "Rebuild derived state from the ledger.", subcommands: [RebuildIndexCommand.self, RebuildWarehouseCommand.self])
}

struct RebuildIndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Discard the SQLite index and recreate it from the segments alone.",
        discussion: "Takes the writer lock (stop ledger-ingest first).")

    @OptionGroup var ledger: LedgerDirectoryOptions

    func run() throws {
        let started = Date()
        // Recovery runs as on any open: what it repairs (a torn tail, an undurable tail) is said on stderr.
        var logger = Logger(label: "ledger-tool", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .warning
        let durable = try LedgerMaintenance.rebuildIndex(directory: ledger.directory, options: LedgerOptions(logger: logger))
        print("index rebuilt: durable LSN \(durable) in \(decimal(Date().timeIntervalSince(started)))s")
    }
}
