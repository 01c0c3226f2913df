import ArgumentParser
import Foundation
import Ledger
import Projector
import ServiceKit

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
            try printJSONLine(
                Report(
                    ledgerId: report.ledgerID.text, uploaded: report.uploaded, repaired: report.repaired,
                    alreadyArchived: report.alreadyArchived, bytesUploaded: report.bytesUploaded,
                    archivedThroughLsn: report.archivedThroughLSN))
        } else {
            print(
                "ledger \(report.ledgerID.text): \(report.uploaded.count) segments uploaded, \(report.repaired.count) repaired, \(report.alreadyArchived) already archived; \(grouped(report.bytesUploaded)) bytes; archived through LSN \(report.archivedThroughLSN)"
            )
        }
        // After the rest: the newer segments were archived all the same. Damage to an evicted segment's only copy
        // is a failed check (exit 1), named object by object.
        guard report.evictedObjectsLost.isEmpty else {
            for lost in report.evictedObjectsLost { printError("ledger-tool archive: \(lost)") }
            throw ExitStatus.checkFailed
        }
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

struct RetainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retain",
        abstract: "Delete local sealed segments that are archived, verified there, and behind every warehouse.",
        discussion: """
            Oldest first, a sealed segment's file is deleted when every record in it is behind the checkpoint of \
            each warehouse named with --postgres (or --no-warehouse says none reads this ledger), the archive's \
            manifest names it, its local bytes have the manifest's SHA-256, and the archived object, read back now, \
            has it too. The newest --keep-sealed-segments sealed segments and the ledger's last segment always stay. The \
            first segment that fails a check ends the run, and the report says why it stays. The deleted segments are \
            recorded in evicted-segments.json before each file goes: the projector, trace, rebuild, verify and \
            inspect fetch them from that archive when they need them (with the AWS variables for s3://). Takes no \
            writer lock: runs beside ledger-ingest, e.g. from a timer; one run at a time (retain.lock).
            """)

    @OptionGroup var ledger: LedgerDirectoryOptions
    @Option(help: archiveURLHelp) var archive: String
    @Option(
        name: .customLong("postgres"),
        help: ArgumentHelp(
            "A warehouse that projects this ledger, for its checkpoint (repeatable; default DATABASE_URL).",
            valueName: "URL"))
    var warehouses: [String] = []
    @Option(name: .customLong("schema"), help: "The warehouse schema (env WAREHOUSE_SCHEMA; default warehouse).")
    var schemaOption: String?
    @Flag(help: "No warehouse reads this ledger: only the archive decides.") var noWarehouse = false
    @Option(help: "Sealed segments that stay local whatever else holds, newest first.") var keepSealedSegments = 2
    @Flag(help: "Check everything and report what would go, deleting nothing.") var dryRun = false
    @OptionGroup var output: OutputFormatOptions

    var schema: String { schemaOption ?? Settings.current.string("WAREHOUSE_SCHEMA") ?? WarehouseSchema.defaultName }

    struct Report: Encodable {
        var schema = "pulse-ledger.retain.v1"
        var ledgerId: String
        var dryRun: Bool
        var evicted: [String]
        var bytesFreed: Int64
        var evictedThroughLsn: UInt64
        var floorLsn: UInt64
        var keptBecause: String
    }

    func validate() throws {
        _ = try archiveTarget(archive)
        guard keepSealedSegments >= 0 else { throw ValidationError("--keep-sealed-segments is 0 or more") }
        _ = try WarehouseSchema(schema)
        if noWarehouse && !warehouses.isEmpty {
            throw ValidationError("--no-warehouse says no warehouse reads the ledger, and --postgres names one")
        }
        if !noWarehouse && warehouseURLs.isEmpty {
            throw ValidationError(
                "name each warehouse that projects this ledger with --postgres URL (or DATABASE_URL), or say --no-warehouse"
            )
        }
    }

    private var warehouseURLs: [String] {
        warehouses.isEmpty ? (Settings.current.string("DATABASE_URL").map { [$0] } ?? []) : warehouses
    }

    func run() throws {
        let reader = try LedgerReader(directory: ledger.directory)
        let floor = try floorLSN(reader)
        let report = try LedgerRetention.evict(
            directory: ledger.directory, archive: try archiveTarget(archive), floorLSN: floor,
            keepSealedSegments: keepSealedSegments, dryRun: dryRun)
        if output.isJSON {
            return try printJSONLine(
                Report(
                    ledgerId: report.ledgerID.text, dryRun: dryRun, evicted: report.evicted,
                    bytesFreed: report.bytesFreed, evictedThroughLsn: report.evictedThroughLSN, floorLsn: floor,
                    keptBecause: report.keptBecause))
        }
        let verb = dryRun ? "would delete" : "deleted"
        print(
            "ledger \(report.ledgerID.text): \(verb) \(report.evicted.count) segments (\(grouped(report.bytesFreed)) bytes); archive only through LSN \(report.evictedThroughLSN); the rest stays because \(report.keptBecause)"
        )
    }

    /// The lowest checkpoint of the warehouses, or the durable LSN when none reads the ledger. A checkpoint past
    /// the ledger means the warehouse projected another history (a restore): nothing is deleted until it is
    /// rebuilt from this one.
    private func floorLSN(_ reader: LedgerReader) throws -> UInt64 {
        // The checkpoints first, then the durable LSN: while ingest and the projector run, both grow, and a durable
        // LSN read first could be passed by a checkpoint read after it (the fault campaign saw checkpoint 333 over
        // durable 329), which would look like a restored ledger.
        let checkpoints = try warehouseURLs.map { url in
            try CheckpointProbe(
                postgresURL: url, schema: try WarehouseSchema(schema), applicationName: "ledger-tool retain"
            ).projectedLSN(of: reader.ledgerID)
        }
        let durable = try reader.durableLSN()
        var floor = durable
        for checkpoint in checkpoints {
            guard checkpoint <= durable else {
                throw LedgerError(
                    .invalidArgument,
                    "a warehouse's checkpoint is past this ledger: the ledger was restored or replaced; rebuild the warehouse from it first (ledger-tool rebuild warehouse)",
                    [("checkpoint_lsn", "\(checkpoint)"), ("durable_lsn", "\(durable)"), ("path", ledger.directory)])
            }
            floor = min(floor, checkpoint)
        }
        return floor
    }
}
