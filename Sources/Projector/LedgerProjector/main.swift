import ArgumentParser
import Foundation
import Logging
import PostgresClient
import Projector
import ServiceKit
import ServiceLifecycle

@main
struct LedgerProjectorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-projector",
        abstract:
            "Project the ledger into the PostgreSQL warehouse, exactly once: rows and checkpoint in one transaction.",
        discussion: """
            Applies the warehouse migrations at start (refusing a schema newer than this binary), resumes every ledger from its \
            checkpoint, then follows the ledgers as they grow. PostgreSQL outages are retried with backoff. A record that cannot be \
            projected stops the projector with its ledger id, LSN and reason, unless --quarantine is given. SIGTERM or SIGINT \
            finishes the transaction in flight and exits 0. Every option can also be set by the environment variable named in its help.
            """)

    @Option(
        name: .customLong("wal"),
        help: ArgumentHelp(
            "A ledger directory; repeat for several ledgers (env LEDGER_WAL_DIR, comma-separated).", valueName: "DIR"))
    var ledgerDirectories: [String] =
        env("LEDGER_WAL_DIR").map { $0.split(separator: ",").map(String.init) } ?? ["./ledger"]
    @Option(
        name: .customLong("postgres"),
        help: ArgumentHelp(
            "The warehouse: postgres://user:password@host:port/database (env DATABASE_URL; prefer it, or ~/.pgpass, to an argument that ps shows). The password is never logged.",
            valueName: "URL"))
    var postgres: String?
    @Option(help: "The warehouse schema (env WAREHOUSE_SCHEMA).") var schema =
        env("WAREHOUSE_SCHEMA") ?? WarehouseSchema.defaultName
    @Option(
        help:
            "The SELECT-only role granted read access to the schema; empty to grant nothing (env WAREHOUSE_READER_ROLE)."
    )
    var readerRole = env("WAREHOUSE_READER_ROLE") ?? "grafana_reader"
    @Flag(help: "Set records that cannot be projected aside in quarantined_records instead of stopping.")
    var quarantine = false
    @Option(help: "Most ledger records per PostgreSQL transaction (env PROJECTOR_TRANSACTION_RECORDS).")
    var transactionRecords =
        Int(env("PROJECTOR_TRANSACTION_RECORDS") ?? "") ?? ProjectorLimits.transactionRecordsDefault
    @Option(
        name: .customLong("poll-interval-ms"),
        help: "Milliseconds between looks at a fully projected ledger (env PROJECTOR_POLL_INTERVAL_MS).")
    var pollIntervalMilliseconds =
        Int(env("PROJECTOR_POLL_INTERVAL_MS") ?? "") ?? ProjectorLimits.followPollIntervalMillisecondsDefault
    @Flag(help: "Exit 0 once every ledger's durable records are in the warehouse, instead of following.")
    var exitWhenCaughtUp = false
    @Option(help: "Port of /metrics and /healthz, 0 to disable (env METRICS_PORT).") var metricsPort =
        Int(env("METRICS_PORT") ?? "") ?? 9465
    @OptionGroup var logging: LoggingOptions

    /// `--postgres`, else DATABASE_URL. Read here rather than as the option's default value, which --help would
    /// print, password included.
    var postgresURL: String { postgres ?? env("DATABASE_URL") ?? "" }

    func validate() throws {
        try IntegerEnvironment.check(["METRICS_PORT", "PROJECTOR_TRANSACTION_RECORDS", "PROJECTOR_POLL_INTERVAL_MS"])
        guard !postgresURL.isEmpty else {
            throw ValidationError("give the warehouse with --postgres URL or DATABASE_URL")
        }
        guard !ledgerDirectories.isEmpty else { throw ValidationError("give at least one --wal DIR") }
        _ = try WarehouseSchema(schema)
        guard ProjectorLimits.transactionRecordsRange.contains(transactionRecords) else {
            throw ValidationError(
                "--transaction-records is \(ProjectorLimits.transactionRecordsRange.lowerBound)...\(ProjectorLimits.transactionRecordsRange.upperBound)"
            )
        }
        guard pollIntervalMilliseconds > 0 else { throw ValidationError("--poll-interval-ms is positive") }
        // Following, a ledger directory may appear later (ledger-ingest creates it); a one-off run over a directory
        // that is not there would report "caught up" having projected nothing.
        if exitWhenCaughtUp,
            let missing = ledgerDirectories.first(where: { !FileManager.default.fileExists(atPath: $0) })
        {
            throw ValidationError(
                "no ledger directory at \(missing) (--exit-when-caught-up projects what is there and stops)")
        }
        guard (0...65535).contains(metricsPort) else { throw ValidationError("--metrics-port is 0...65535") }
    }

    func run() async throws {
        let configuration = ProjectorConfiguration(
            ledgerDirectories: ledgerDirectories, postgresURL: postgresURL, schema: try WarehouseSchema(schema),
            readerRole: readerRole.isEmpty ? nil : readerRole, quarantine: quarantine,
            transactionRecords: transactionRecords,
            pollIntervalMilliseconds: pollIntervalMilliseconds, exitWhenCaughtUp: exitWhenCaughtUp)
        try await ServiceProcess.main(
            "ledger-projector", event: "projector", logging: logging, metricsPort: metricsPort,
            metricHelp: ProjectorMetrics.help,
            configuration: [
                "postgres.url": "\(ConnectionString.redacted(postgresURL))", "warehouse.schema": "\(schema)",
                "ledger.paths": "\(ledgerDirectories.joined(separator: ","))",
                "projector.quarantine": "\(quarantine)", "projector.transaction_records": "\(transactionRecords)",
            ]
        ) { logger, health in
            ProjectorService.make(configuration: configuration, health: health, logger: logger)
        }
    }
}

func env(_ name: String) -> String? { ProcessInfo.processInfo.environment[name] }
