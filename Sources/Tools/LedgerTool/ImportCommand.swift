import ArgumentParser
import Foundation
import Ledger
import MessageSchema
import OperatingErrors

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Validate JSON lines and append them to the ledger exactly as ledger-ingest would.",
        discussion: """
            Each line is one message. Its source coordinates are topic "file:<file name>@<digest>", partition 0, \
            offset = line number (from 1), where the digest (128 bits of the SHA-256 of the whole file) is the \
            file's identity with its name: importing the same file again, from any directory, appends nothing new (an \
            interrupted import resumes), and another file with the same name is another source. Use "-" to read standard input \
            (copied to a temporary file first, to be hashed).
            """)

    @OptionGroup var ledger: LedgerDirectoryOptions
    @Option(
        help: ArgumentHelp(
            "A member outside the schema: reject the line as unknown_field, ignore the member, or keep it (as ledger-ingest's option).",
            valueName: "reject|ignore|keep"))
    var unknownFields: UnknownFieldPolicy = .reject
    @OptionGroup var output: OutputFormatOptions

    @Argument(help: ArgumentHelp("A file of JSON lines, or - for standard input.", valueName: "FILE"))
    var file: String

    func run() throws {
        let source = try ImportSource(file: file)
        defer { source.finish() }
        let reader = try LineReader(path: source.path, maximumLineBytes: MessageLimits.messageBytesMax + 1)
        let appender = LedgerAppender(
            writer: try LedgerWriter(directory: ledger.directory), unknownFields: unknownFields)
        let topic = source.topic
        let progress = ProgressReporter(title: "Importing", unit: "lines")
        var summary = ImportSummary()
        do {
            try importLines(reader, topic: topic, appender: appender, progress: progress, summary: &summary)
            summary.durableLSN = try appender.close()
            progress.finish(succeeded: true)
        } catch {
            progress.finish(succeeded: false)
            throw error
        }
        if output.isJSON {
            try printJSONLine(ImportReport(summary, topic: topic))
        } else {
            print(summary.report(topic: topic))
        }
    }

    private func importLines(
        _ reader: LineReader, topic: String, appender: LedgerAppender, progress: ProgressReporter,
        summary: inout ImportSummary
    ) throws {
        var lineNumber: Int64 = 0
        while let line = try reader.next() {
            lineNumber += 1
            let source = SourceCoordinates(topic: topic, partition: 0, offset: lineNumber)
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
            let outcome = try line.bytes.withUnsafeBytes {
                try appender.append(value: $0, source: source, ingestTimeMicroseconds: now)
            }
            summary.count(outcome)
            if lineNumber % Int64(Limits.groupCommitRecordsMax) == 0 {
                try appender.commit()
                progress.update(
                    done: Int(lineNumber),
                    fraction: reader.totalBytes.map { Double(reader.bytesRead) / Double(max($0, 1)) })
            }
        }
        summary.lines = lineNumber
    }
}

/// What an import did, for the closing report.
struct ImportSummary {
    var lines: Int64 = 0
    var kinds: [RecordKind: Int] = [:]
    var reasons: [String: Int] = [:]
    var alreadyRecorded = 0
    var durableLSN: UInt64 = 0

    mutating func count(_ outcome: AppendOutcome) {
        switch outcome {
        case .appended(_, let kind, let rejection):
            kinds[kind, default: 0] += 1
            if kind == .rejected, let rejection { reasons[rejection.reason.code, default: 0] += 1 }
        case .alreadyRecorded:
            alreadyRecorded += 1
        }
    }

    func report(topic: String) -> String {
        var lines = ["imported \(topic): \(grouped(lines)) lines"]
        for kind in RecordKind.allCases where kind != .gap {
            lines.append(
                "  \(kind.description.padding(toLength: 16, withPad: " ", startingAt: 0)) \(grouped(kinds[kind] ?? 0))")
        }
        for (reason, count) in reasons.sorted(by: { $0.key < $1.key }) {
            lines.append("    rejected \(reason.padding(toLength: 24, withPad: " ", startingAt: 0)) \(grouped(count))")
        }
        lines.append("  already in ledger \(grouped(alreadyRecorded))")
        lines.append("  durable LSN       \(durableLSN)")
        return lines.joined(separator: "\n")
    }
}
