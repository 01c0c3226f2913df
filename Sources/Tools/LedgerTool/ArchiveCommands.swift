import ArgumentParser
import Foundation
import Ledger

extension LedgerArchive.Check: ExpressibleByArgument {}

/// The archive a URL names (`file:///path` or `s3://bucket/prefix`, with the AWS variables of the environment); a
/// URL or setting that cannot work is a usage error that says why.
func archiveTarget(_ url: String) throws -> any ArchiveTarget {
    do {
        return try LedgerArchive.target(url: url, environment: ProcessInfo.processInfo.environment)
    } catch let error as LedgerError {
        throw ValidationError("\(url): \(error)")
    }
}

/// The help of an archive URL option, the same on every command that takes one.
let archiveURLHelp = ArgumentHelp(
    "The archive: file:///path, or s3://bucket/prefix (endpoint, region and credentials from AWS_ENDPOINT_URL, "
        + "AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or their *_FILE variants).",
    valueName: "URL")

struct ArchiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Copy the ledger's sealed segments, and a manifest, to an archive; verify each after upload.",
        discussion: """
            Only sealed segments are archived (they never change again). Each is uploaded, read back and compared \
            (size and SHA-256) before the manifest names it. Idempotent and resumable: a segment already archived and \
            verified is left alone; one whose object is missing or differs is reported and uploaded again (--check \
            sizes finds a missing or truncated object, --check contents also a changed byte). Takes no \
            lock: runs beside ledger-ingest. Layout: <archive>/<ledger id>/segments/ and <ledger id>/manifest.json.
            """)

    @OptionGroup var ledger: LedgerDirectoryOptions
    @Option(help: archiveURLHelp) var to: String
    @Option(
        help: ArgumentHelp(
            "How to check the segments already archived: read each back and compare its SHA-256 (contents), or only its presence and size from one listing (sizes).",
            valueName: "contents|sizes"))
    var check: LedgerArchive.Check = .contents
    @OptionGroup var output: OutputFormatOptions

    struct Report: Encodable {
        var schema = "pulse-ledger.archive.v1"
        var ledgerId: String
        var uploaded: [String]
        var repaired: [String]
        var alreadyArchived: Int
        var bytesUploaded: Int64
        var archivedThroughLsn: UInt64
    }

    func validate() throws { _ = try archiveTarget(to) }

    func run() throws {
        let report = try LedgerArchive.archive(directory: ledger.directory, to: try archiveTarget(to), check: check)
        for file in report.repaired {
            printError("ledger-tool archive: \(file) was missing or differed in the archive; uploaded again")
        }
        if output.isJSON {
            return try printJSONLine(
                Report(
                    ledgerId: report.ledgerID.text, uploaded: report.uploaded, repaired: report.repaired,
                    alreadyArchived: report.alreadyArchived, bytesUploaded: report.bytesUploaded,
                    archivedThroughLsn: report.archivedThroughLSN))
        }
        print(
            "ledger \(report.ledgerID.text): \(report.uploaded.count) segments uploaded, \(report.repaired.count) repaired, \(report.alreadyArchived) already archived; \(grouped(report.bytesUploaded)) bytes; archived through LSN \(report.archivedThroughLSN)"
        )
    }
}

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Rebuild a ledger directory from an archive: every segment checked, then the index rebuilt.",
        discussion: """
            Writes into an empty or new directory only. Every object is checked against the manifest (size and \
            SHA-256) and the segments must follow each other; any difference stops the restore, naming the object. \
            The restored ledger holds what was archived (sealed segments), or with --until what the ledger held at \
            that point: ledger-ingest on it resumes from its watermarks, and Kafka must still hold what came after. \
            A ledger restored with --until has forked from the archived history: archive it to a new prefix.
            """)

    @Option(help: archiveURLHelp) var from: String
    @OptionGroup var ledger: LedgerDirectoryOptions
    @Option(help: ArgumentHelp("The ledger to restore, when the archive holds several.", valueName: "ID"))
    var ledgerId: String?
    @Option(
        help: ArgumentHelp(
            "Restore through this LSN (inclusive), or through the last record ingested at or before this RFC 3339 time.",
            valueName: "LSN|TIME"))
    var until: String?
    @OptionGroup var output: OutputFormatOptions

    struct Report: Encodable {
        var schema = "pulse-ledger.restore.v1"
        var ledgerId: String
        var segments: Int
        var durableLsn: UInt64
        var until: String?
    }

    func validate() throws {
        _ = try archiveTarget(from)
        if let ledgerId, UUID(uuidString: ledgerId) == nil { throw ValidationError("--ledger-id is a UUID") }
        if let until, RestorePoint(until) == nil {
            throw ValidationError("--until \(until) is neither an LSN (1 or more) nor an RFC 3339 time with its offset")
        }
    }

    func run() throws {
        let target = try archiveTarget(from)
        let id = try chosenLedger(target)
        let point = until.flatMap(RestorePoint.init)
        let progress = ProgressReporter(title: "Restoring", unit: "bytes")
        let report: LedgerArchive.RestoreReport
        do {
            report = try LedgerArchive.restore(
                from: target, ledgerID: id, to: ledger.directory, until: point,
                progress: { progress.update(done: Int($0), fraction: $1 == 0 ? nil : Double($0) / Double($1)) })
            progress.finish(succeeded: true)
        } catch {
            progress.finish(succeeded: false)
            throw error
        }
        if output.isJSON {
            return try printJSONLine(
                Report(
                    ledgerId: id.text, segments: report.segments, durableLsn: report.durableLSN,
                    until: point.map { "\($0)" }))
        }
        print(
            "ledger \(id.text) restored into \(ledger.directory): \(report.segments) segments, durable LSN \(report.durableLSN)"
                + (point.map { " (until \($0))" } ?? "")
        )
    }

    private func chosenLedger(_ target: any ArchiveTarget) throws -> UUID {
        if let ledgerId { return UUID(uuidString: ledgerId)! }
        let ledgers = try LedgerArchive.ledgers(in: target)
        guard ledgers.count == 1 else {
            throw ValidationError(
                ledgers.isEmpty
                    ? "\(from) holds no archived ledger"
                    : "\(from) holds \(ledgers.count) ledgers: name one with --ledger-id (\(ledgers.map(\.text).joined(separator: ", ")))"
            )
        }
        return ledgers[0]
    }
}
