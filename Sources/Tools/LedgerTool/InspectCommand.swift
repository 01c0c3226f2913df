import ArgumentParser
import Foundation
import Ledger

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Look inside ledger files.", subcommands: [InspectSegmentCommand.self])
}

struct InspectSegmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Show a segment's header, frames, footer and totals, checking every frame.",
        discussion: """
            Exits 1 when a frame or the footer fails its checks, naming the byte offset. -o json prints one object with \
            the stable schema "pulse-ledger.inspect-segment.v1" (documented in docs/CLI.md).
            """)

    @Argument(
        help: ArgumentHelp(
            "The segment file (NNNNNNNNNNNNNNNNNNNN.seg); one `ledger-tool retain` evicted is read from the archive.",
            valueName: "PATH"))
    var path: String

    @Flag(help: "List every record.")
    var records = false

    @OptionGroup var output: OutputFormatOptions

    func run() throws {
        // An evicted segment is fetched into a temporary file that lives as long as `segments`.
        let folder = (path as NSString).deletingLastPathComponent
        let segments = EvictedSegmentCache(directory: folder.isEmpty ? "." : folder)
        let readable = try segments.readablePath(of: (path as NSString).lastPathComponent) ?? path
        var report = try SegmentInspection.inspect(path: readable, includeRecords: records)
        report.path = path
        if output.isJSON {
            try printJSONLine(report)
        } else {
            print(Self.text(report))
        }
        if let problem = report.problem {
            printError(
                "corrupt segment \(report.path) at offset \(problem.offset): \(problem.check) (expected \(problem.expected), found \(problem.found))"
            )
            throw ExitStatus.checkFailed
        }
    }

    static func text(_ report: SegmentInspection) -> String {
        let header = report.header
        var lines = [
            "segment \(report.path)",
            "  format version \(header.formatVersion), ledger \(header.ledgerID), first LSN \(header.firstLSN), previous digest \(header.previousDigest), created \(header.createdAt)",
            "  frames:",
            "    offset        first LSN     last LSN   records    stored       raw   ratio  crc         ok",
        ]
        for frame in report.frames {
            lines.append(
                "    "
                    + [
                        pad(frame.offset, 10), pad(frame.firstLSN, 12), pad(frame.lastLSN, 12), pad(frame.records, 9),
                        pad(frame.storedBytes, 9),
                        pad(frame.rawBytes, 9), pad(decimal(frame.ratio), 7), " " + frame.crc,
                        frame.checksumOK ? " yes" : " NO",
                    ].joined(separator: " "))
        }
        if let footer = report.footer {
            lines.append(
                "  footer: sealed, \(footer.frameCount) frames, \(footer.recordCount) records from LSN \(footer.firstLSN), digest \(footer.digest)"
            )
        } else {
            lines.append("  footer: none (open segment)")
        }
        let totals = report.totals
        lines.append(
            "  totals: \(grouped(totals.frames)) frames, \(grouped(totals.records)) records, \(grouped(totals.storedBytes)) bytes stored, \(grouped(totals.rawBytes)) raw, ratio \(decimal(totals.ratio)), file \(grouped(totals.fileBytes)) bytes"
        )
        if let problem = report.problem {
            lines.append(
                "  ERROR at offset \(problem.offset): \(problem.check): expected \(problem.expected), found \(problem.found)"
            )
        }
        for record in report.records ?? [] { lines.append("  " + record.summary) }
        return lines.joined(separator: "\n")
    }

    private static func pad(_ value: some CustomStringConvertible, _ width: Int) -> String {
        let text = value.description
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
