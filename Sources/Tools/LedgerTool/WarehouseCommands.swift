import ArgumentParser
import Foundation
import Ledger
import Logging
import MessageSchema
import Projector
import ServiceKit

/// `--postgres URL` and `--schema NAME`, shared by the warehouse commands.
struct WarehouseOptions: ParsableArguments {
    @Option(
        name: .customLong("postgres"),
        help: ArgumentHelp(
            "The warehouse: postgres://user:password@host:port/database (env DATABASE_URL or DATABASE_URL_FILE; without any, libpq's PG* variables and ~/.pgpass).",
            valueName: "URL"))
    var postgres: String?
    /// `--postgres`, else DATABASE_URL (or its _FILE); empty lets libpq read PGHOST, PGUSER, … and ~/.pgpass.
    /// Read here rather than as the option's default value, which --help would print, password included.
    var postgresURL: String { postgres ?? Settings.current.string("DATABASE_URL") ?? "" }
    @Option(name: .customLong("schema"), help: "The warehouse schema (env WAREHOUSE_SCHEMA; default warehouse).")
    var schemaOption: String?
    @Option(
        name: .customLong("reader-role"),
        help:
            "The SELECT-only role granted read access; empty to grant nothing (env WAREHOUSE_READER_ROLE; default grafana_reader)."
    )
    var readerRoleOption: String?

    var schema: String { schemaOption ?? Settings.current.string("WAREHOUSE_SCHEMA") ?? WarehouseSchema.defaultName }
    var readerRole: String { readerRoleOption ?? Settings.current.string("WAREHOUSE_READER_ROLE") ?? "grafana_reader" }

    func validate() throws {
        guard !postgresURL.isEmpty || Settings.libpqEnvironmentNamesAServer else {
            throw ValidationError("give the warehouse with --postgres URL, DATABASE_URL, or libpq's PGHOST/PGDATABASE")
        }
        _ = try WarehouseSchema(schema)
    }

    var warehouseSchema: WarehouseSchema { get throws { try WarehouseSchema(schema) } }
    var reader: String? { readerRole.isEmpty ? nil : readerRole }
}

/// Logs of the warehouse commands: text on standard error, warnings and above (the command prints its result).
private let toolLogger: Logger = {
    var logger = Logger(label: "ledger-tool", factory: { StreamLogHandler.standardError(label: $0) })
    logger.logLevel = .warning
    return logger
}()

struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the warehouse schema migrations (schema/*.sql) that the database lacks.",
        discussion:
            "Refuses a schema migrated by a newer binary, or one whose applied migrations differ from schema/. ledger-projector applies them at start too."
    )

    @OptionGroup var warehouse: WarehouseOptions
    @OptionGroup var output: OutputFormatOptions

    func run() throws {
        let outcome = try WarehouseMaintenance.migrate(
            postgresURL: warehouse.postgresURL, schema: try warehouse.warehouseSchema,
            readerRole: warehouse.reader, logger: toolLogger)
        if output.isJSON {
            return try printJSONLine(
                MigrateReport(
                    warehouseSchema: warehouse.schema, currentVersion: outcome.currentVersion,
                    appliedVersions: outcome.appliedVersions.map { Int($0) }))
        }
        let applied =
            outcome.appliedVersions.isEmpty
            ? "nothing to apply" : "applied \(outcome.appliedVersions.map(String.init).joined(separator: ", "))"
        print("schema \(warehouse.schema) at version \(outcome.currentVersion) (\(applied))")
    }
}

struct RebuildWarehouseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warehouse",
        abstract:
            "Rebuild the whole warehouse from the ledger into a shadow schema, optionally verify it, then swap it in.",
        discussion: """
            The live warehouse keeps serving until the final swap (two schema renames in one transaction); an interrupted or \
            failed rebuild leaves it untouched. --until LSN stops after that LSN (one ledger); --until TIMESTAMP (RFC 3339) \
            stops after the last record ingested by then. --verify compares per-day digests (count, sum of amount, tax, \
            total, fraud count) with the ledger's before swapping, and refuses to swap on any difference. \
            --from-archive URL reads the ledgers from an archive (file:// or s3://) instead of --wal: what the archive \
            holds (sealed segments), each object checked as restore checks it.
            """)

    @Option(
        name: .customLong("wal"),
        help: ArgumentHelp(
            "A ledger directory; repeat for several ledgers (env LEDGER_WAL_DIR, comma-separated; default ./ledger).",
            valueName: "DIR"))
    var ledgerDirectoryOptions: [String] = []
    var ledgerDirectories: [String] {
        ledgerDirectoryOptions.isEmpty
            ? Settings.current.list("LEDGER_WAL_DIR") ?? ["./ledger"] : ledgerDirectoryOptions
    }
    @OptionGroup var warehouse: WarehouseOptions
    @Option(
        help: ArgumentHelp(
            "Stop after this LSN, or after the last record ingested by this RFC 3339 instant.",
            valueName: "LSN|TIMESTAMP"))
    var until: String?
    @Flag(help: "Compare per-day digests with the ledger before swapping.") var verify = false
    @Option(
        help: ArgumentHelp(
            "Read the ledgers from this archive instead of --wal: each is fetched and checked as restore does, into a staging directory deleted afterwards.",
            valueName: "URL"))
    var fromArchive: String?
    @Option(help: ArgumentHelp("With --from-archive: only this ledger (repeat for several).", valueName: "ID"))
    var ledgerId: [String] = []
    @Option(
        help: ArgumentHelp(
            "With --from-archive: the directory in which a new staging directory for the fetched ledgers is made, and removed afterwards (default: the system's temporary directory).",
            valueName: "DIR"))
    var staging: String?
    @OptionGroup var output: OutputFormatOptions

    func validate() throws {
        _ = try limit()
        guard let fromArchive else {
            if !ledgerId.isEmpty || staging != nil {
                throw ValidationError("--ledger-id and --staging go with --from-archive")
            }
            return
        }
        if !ledgerDirectoryOptions.isEmpty { throw ValidationError("--wal and --from-archive exclude each other") }
        _ = try archiveTarget(fromArchive)
        if let bad = ledgerId.first(where: { UUID(uuidString: $0) == nil }) {
            throw ValidationError("--ledger-id \(bad) is not a UUID")
        }
    }

    /// The ledgers of `--from-archive`, fetched into a staging directory (removed by the caller), or nil.
    private func fetchFromArchive() throws -> (directories: [String], staging: String)? {
        guard let fromArchive else { return nil }
        let target = try archiveTarget(fromArchive)
        let ids = ledgerId.isEmpty ? try LedgerArchive.ledgers(in: target) : ledgerId.compactMap(UUID.init(uuidString:))
        guard !ids.isEmpty else { throw ValidationError("\(fromArchive) holds no archived ledger") }
        let root = try makeTemporaryDirectory(in: staging ?? NSTemporaryDirectory(), prefix: "pulse-ledger-rebuild")
        var directories: [String] = []
        for id in ids {
            let directory = root + "/" + id.text
            let progress = ProgressReporter(title: "Fetching \(id.text.prefix(8))", unit: "bytes")
            _ = try LedgerArchive.restore(
                from: target, ledgerID: id, to: directory,
                progress: { progress.update(done: Int($0), fraction: $1 == 0 ? nil : Double($0) / Double($1)) })
            progress.finish(succeeded: true)
            directories.append(directory)
        }
        return (directories, root)
    }

    func limit() throws -> WarehouseRebuild.Limit? {
        guard let until else { return nil }
        if let lsn = UInt64(until) { return .lsn(lsn) }
        guard case .success(let instant) = RFC3339.parse(until) else {
            throw ValidationError(
                "--until is an LSN (digits) or an RFC 3339 timestamp with a zone, e.g. 2024-01-15T12:00:00Z")
        }
        return .ingestedBy(microsecondsSinceEpoch: instant.microsecondsSinceEpoch)
    }

    func run() throws {
        let fetched = try fetchFromArchive()
        defer { if let fetched { try? FileManager.default.removeItem(atPath: fetched.staging) } }
        let options = WarehouseRebuild.Options(
            ledgerDirectories: fetched?.directories ?? ledgerDirectories, postgresURL: warehouse.postgresURL,
            schema: try warehouse.warehouseSchema,
            readerRole: warehouse.reader, limit: try limit(), verify: verify)
        let rebuild = try WarehouseRebuild(options: options, logger: toolLogger)
        let progress = ProgressReporter(title: "Rebuilding", unit: "records")
        let report: WarehouseRebuild.Report
        do {
            report = try rebuild.run(progress: { done, total in
                progress.update(done: Int(done), fraction: total == 0 ? nil : Double(done) / Double(total))
            })
            progress.finish(succeeded: true)
        } catch {
            progress.finish(succeeded: false)
            throw error
        }
        if output.isJSON {
            return try printJSONLine(
                RebuildWarehouseReport(
                    warehouseSchema: warehouse.schema,
                    ledgers: report.ledgers.map { .init(ledgerId: $0.id.text, lastLsn: $0.lastLSN) },
                    records: report.records, rows: report.rows, rejections: report.rejections, days: report.days,
                    verifiedDays: report.verifiedDays, seconds: report.seconds))
        }
        for ledger in report.ledgers {
            print("ledger \(ledger.id.text) through LSN \(ledger.lastLSN)")
        }
        print(
            "\(grouped(report.records)) records → \(grouped(report.rows)) rows, \(grouped(report.rejections)) rejected messages, \(report.days) days, in \(decimal(report.seconds))s (\(grouped(Int(Double(report.records) / max(report.seconds, 0.001))))/s)"
        )
        if verify {
            print("verified: \(report.verifiedDays) days match the ledger (count, amount, tax, total, flagged)")
        }
        print("swapped in as schema \(warehouse.schema)")
    }
}

/// The warehouse side of `ledger-tool trace`: lines describing the order's row in `transactions` (with its
/// partition) and any conflicting duplicates in `rejected_messages`, or one line saying there is none.
func warehouseTraceLines(orderID: UUID, postgresURL: String, schema: String = WarehouseSchema.defaultName) throws
    -> [String]
{
    try WarehouseLookup.describe(orderID: orderID, postgresURL: postgresURL, schema: try WarehouseSchema(schema))
}

/// A new directory `<parent>/<prefix>-XXXXXX` (mkdtemp: unique, owner-only).
func makeTemporaryDirectory(in parent: String, prefix: String) throws -> String {
    var template = ((parent.hasSuffix("/") ? parent : parent + "/") + prefix + "-XXXXXX").utf8CString
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw ValidationError("cannot make a directory in \(parent): \(String(cString: strerror(errno)))")
    }
    return String(cString: made)
}
