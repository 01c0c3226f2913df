import ArgumentParser
import Foundation
import Ledger
import Logging
import MessageSchema
import OperatingErrors

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every durable record, the chain of digests, and the index against the segments.",
        discussion: """
            Judges the ledger as of the durable LSN its index published when verify began: every record up to it \
            is read and checked (checksums, chain, decoding, footers), and the index is compared with one rebuilt \
            from the segments. Never modifies anything and takes no lock, so it may run beside ledger-ingest; bytes \
            past the durable LSN (a live writer's next frames, or a crash's tail the next open checks) are reported, \
            not judged. Memory stays bounded whatever the ledger's size. Exits 1 when damage is found or the index \
            differs, 2 when it could not check (no ledger, an I/O error).
            """)

    @OptionGroup var ledger: LedgerDirectoryOptions
    @OptionGroup var output: OutputFormatOptions

    func run() throws {
        let report: LedgerMaintenance.VerifyReport
        do {
            report = try LedgerMaintenance.verify(directory: ledger.directory)
        } catch let error as LedgerError where error.code == .corruption || error.code == .mismatch {
            // Damage found is the check's answer (status 1); an I/O error or a missing ledger is status 2.
            if output.isJSON { try printJSONLine(VerifyJSONReport(damage: error)) }
            printError("ledger-tool verify: \(error)")
            throw ExitStatus.checkFailed
        }
        if output.isJSON {
            try printJSONLine(VerifyJSONReport(report))
        } else {
            Self.printText(report)
        }
        guard report.isConsistent else { throw ExitStatus.checkFailed }
    }

    private static func printText(_ report: LedgerMaintenance.VerifyReport) {
        print(
            "segments \(report.segments), records \(grouped(report.records)) checked through durable LSN \(report.durableLSN)"
        )
        print("frames, checksums, chain and footers: ok")
        if report.unpublishedTailBytes > 0 {
            print(
                "past the durable LSN: \(grouped(report.unpublishedTailBytes)) bytes not yet published (a live writer's, or a crash's tail the next open checks)"
            )
        }
        if let lsn = report.undurableAfterLSN {
            print(
                "UNDURABLE marker: a writer's write or fsync failed; the next open drops the frames after LSN \(lsn) (never acknowledged)"
            )
        }
        guard report.isConsistent else {
            print(
                "index differs from the segments (\(report.indexDifferenceCount) rows; `ledger-tool rebuild index` recreates it):"
            )
            for line in report.indexDifferences { print("  " + line) }
            return
        }
        print("index: identical to one rebuilt from the segments")
    }
}

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Counts per record kind and reason, LSN range, bytes on disk, bytes per record."
    )

    @OptionGroup var ledger: LedgerDirectoryOptions
    @OptionGroup var output: OutputFormatOptions

    func run() throws {
        let stats = try LedgerMaintenance.stats(directory: ledger.directory)
        if output.isJSON { return try printJSONLine(StatsReport(stats)) }
        print("ledger \(stats.ledgerID.text)")
        print("  LSN range        \(stats.firstLSN.map { "\($0)...\(stats.durableLSN)" } ?? "empty")")
        print(
            "  segments         \(stats.segments), \(grouped(stats.segmentBytes)) bytes"
                + (stats.evictedSegments == 0
                    ? "" : " (\(stats.evictedSegments), \(grouped(stats.evictedBytes)) bytes, only in the archive)")
                + "; index \(grouped(stats.indexBytes)) bytes"
        )
        print("  bytes per record \(decimal(stats.bytesPerRecord))")
        if let range = stats.ingestTimeRange {
            let seconds = Double(range.upperBound - range.lowerBound) / 1e6
            print(
                "  ingest time      \(RFC3339.format(microsecondsSinceEpoch: range.lowerBound)) ... \(RFC3339.format(microsecondsSinceEpoch: range.upperBound)) (\(decimal(seconds, digits: 3)) s)"
            )
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
        commandName: "rebuild", abstract: "Rebuild derived state from the ledger.",
        subcommands: [RebuildIndexCommand.self, RebuildWarehouseCommand.self])
}

struct RebuildIndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Recreate the SQLite index from the segments alone, and put it in place of the old one.",
        discussion: """
            Takes the writer lock (stop ledger-ingest first); readers (ledger-projector) notice the new index. \
            Recovery runs as on any open and is judged against the durable LSN the old index published: a torn tail \
            past it is truncated (a .broken copy is kept). Published records are never cut: if some are damaged or \
            missing, it stops, says how many, and changes nothing. Restore the ledger from a backup, or accept the \
            loss with --drop-durable-records and exactly that count: the damaged tail is cut (a .broken copy is \
            kept) and every dropped LSN gets a `lost` record, so no LSN is ever reused.
            """)

    @OptionGroup var ledger: LedgerDirectoryOptions

    @Option(
        help: ArgumentHelp(
            "Accept losing exactly this many published records that are damaged or missing (the count the refusal gave; \"unknown\" when no index said what was published).",
            valueName: "N|unknown"))
    var dropDurableRecords: String?
    @OptionGroup var output: OutputFormatOptions

    func validate() throws {
        _ = try drop()
    }

    private func drop() throws -> DurableRecordsDrop? {
        guard let dropDurableRecords else { return nil }
        if dropDurableRecords == "unknown" { return .unknownCount }
        guard let count = UInt64(dropDurableRecords), count > 0 else {
            throw ValidationError(
                "--drop-durable-records takes the count of records the refusal named (a positive number) or \"unknown\""
            )
        }
        return .records(count)
    }

    func run() throws {
        let started = Date()
        // Recovery runs as on any open: what it repairs (a torn tail, an undurable tail) is said on stderr.
        var logger = Logger(label: "ledger-tool", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .warning
        let report = try LedgerMaintenance.rebuildIndex(
            directory: ledger.directory, options: LedgerOptions(logger: logger), drop: try drop())
        if output.isJSON {
            return try printJSONLine(
                RebuildIndexReport(
                    durableLsn: report.durableLSN, previousDurableLsn: report.previousDurableLSN,
                    truncatedBytes: report.truncatedBytes, seconds: Date().timeIntervalSince(started)))
        }
        let previous = report.previousDurableLSN.map { "was \($0)" } ?? "no readable index before"
        print(
            "index rebuilt: durable LSN \(report.durableLSN) (\(previous)) in \(decimal(Date().timeIntervalSince(started)))s"
        )
        if report.truncatedBytes > 0 {
            print(
                "truncated \(grouped(report.truncatedBytes)) bytes from the last segment (copies kept as .broken files beside it)"
            )
        }
    }
}
