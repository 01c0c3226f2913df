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
            finishes the transaction in flight and exits 0. Every option can also be set by the environment variable named in its help, or in the \
            JSON file of --config (docs/OPERATIONS.md); the defaults shown are the built-in ones.
            """)

    @Option(
        name: .customLong("wal"),
        help: ArgumentHelp(
            "A ledger directory; repeat for several ledgers (env LEDGER_WAL_DIR, comma-separated; default ./ledger).",
            valueName: "DIR"))
    var ledgerDirectories: [String] = []
    @Option(
        name: .customLong("postgres"),
        help: ArgumentHelp(
            "The warehouse: postgres://user:password@host:port/database (env DATABASE_URL or DATABASE_URL_FILE; without any, libpq's PG* variables and ~/.pgpass). Prefer those to an argument that ps shows. The password is never logged.",
            valueName: "URL"))
    var postgres: String?
    @Option(help: "The warehouse schema (env WAREHOUSE_SCHEMA; default warehouse).") var schema: String?
    @Option(
        help:
            "The SELECT-only role granted read access to the schema; empty to grant nothing (env WAREHOUSE_READER_ROLE; default grafana_reader)."
    )
    var readerRole: String?
    @Flag(help: "Set records that cannot be projected aside in quarantined_records instead of stopping.")
    var quarantine = false
    @Option(
        help:
            "Most ledger records per PostgreSQL transaction (env PROJECTOR_TRANSACTION_RECORDS; default \(ProjectorLimits.transactionRecordsDefault))."
    )
    var transactionRecords: Int?
    @Option(
        name: .customLong("poll-interval-ms"),
        help:
            "Milliseconds between looks at a fully projected ledger, and the longest wait for a batch in flight before looking again (env PROJECTOR_POLL_INTERVAL_MS; default \(ProjectorLimits.followPollIntervalMillisecondsDefault))."
    )
    var pollIntervalMilliseconds: Int?
    @Option(
        help:
            "Days of transactions the warehouse keeps, today included: older daily partitions are dropped at start and hourly; 0 keeps everything (env WAREHOUSE_RETENTION_DAYS; default 0)."
    )
    var retentionDays: Int?
    @Flag(help: "Exit 0 once every ledger's durable records are in the warehouse, instead of following.")
    var exitWhenCaughtUp = false
    @Option(help: "Port of /metrics and /healthz, 0 to disable (env METRICS_PORT; default 9465).") var metricsPort: Int?
    @Option(help: ArgumentHelp("A JSON configuration file (env PULSE_CONFIG): docs/OPERATIONS.md.", valueName: "FILE"))
    var config: String?
    @OptionGroup var logging: LoggingOptions

    static func main() async { await mainReadingSettings() }

    private var settings: Settings { Settings.current }

    /// `--postgres`, else DATABASE_URL (or its _FILE). Empty: libpq takes PGHOST, PGUSER, … and ~/.pgpass. Read
    /// here rather than as the option's default value, which --help would print, password included.
    var postgresURL: String { postgres ?? settings.string("DATABASE_URL") ?? "" }
    var resolvedLedgerDirectories: [String] {
        ledgerDirectories.isEmpty ? settings.list("LEDGER_WAL_DIR") ?? ["./ledger"] : ledgerDirectories
    }
    var resolvedSchema: String { schema ?? settings.string("WAREHOUSE_SCHEMA") ?? WarehouseSchema.defaultName }

    func resolvedTransactionRecords() throws -> Int {
        try transactionRecords ?? settings.int("PROJECTOR_TRANSACTION_RECORDS")
            ?? ProjectorLimits.transactionRecordsDefault
    }

    func resolvedPollIntervalMilliseconds() throws -> Int {
        try pollIntervalMilliseconds ?? settings.int("PROJECTOR_POLL_INTERVAL_MS")
            ?? ProjectorLimits.followPollIntervalMillisecondsDefault
    }

    func resolvedRetentionDays() throws -> Int { try retentionDays ?? settings.int("WAREHOUSE_RETENTION_DAYS") ?? 0 }

    func resolvedMetricsPort() throws -> Int { try metricsPort ?? settings.int("METRICS_PORT") ?? 9465 }

    func validate() throws {
        guard !postgresURL.isEmpty || Settings.libpqEnvironmentNamesAServer else {
            throw ValidationError("give the warehouse with --postgres URL, DATABASE_URL, or libpq's PGHOST/PGDATABASE")
        }
        let ledgerDirectories = resolvedLedgerDirectories
        guard !ledgerDirectories.isEmpty else { throw ValidationError("give at least one --wal DIR") }
        _ = try WarehouseSchema(resolvedSchema)
        guard ProjectorLimits.transactionRecordsRange.contains(try resolvedTransactionRecords()) else {
            throw ValidationError(
                "--transaction-records is \(ProjectorLimits.transactionRecordsRange.lowerBound)...\(ProjectorLimits.transactionRecordsRange.upperBound)"
            )
        }
        guard try resolvedPollIntervalMilliseconds() > 0 else {
            throw ValidationError("--poll-interval-ms is positive")
        }
        // Following, a ledger directory may appear later (ledger-ingest creates it); a one-off run over a directory
        // that is not there would report "caught up" having projected nothing.
        if exitWhenCaughtUp,
            let missing = ledgerDirectories.first(where: { !FileManager.default.fileExists(atPath: $0) })
        {
            throw ValidationError(
                "no ledger directory at \(missing) (--exit-when-caught-up projects what is there and stops)")
        }
        guard (0...ProjectorLimits.retentionDaysMax).contains(try resolvedRetentionDays()) else {
            throw ValidationError("--retention-days is 0...\(ProjectorLimits.retentionDaysMax)")
        }
        guard (0...65535).contains(try resolvedMetricsPort()) else {
            throw ValidationError("--metrics-port is 0...65535")
        }
    }

    func run() async throws {
        let ledgerDirectories = resolvedLedgerDirectories
        let schema = resolvedSchema
        let readerRole = readerRole ?? settings.string("WAREHOUSE_READER_ROLE") ?? "grafana_reader"
        let transactionRecords = try resolvedTransactionRecords()
        let configuration = ProjectorConfiguration(
            ledgerDirectories: ledgerDirectories, postgresURL: postgresURL, schema: try WarehouseSchema(schema),
            readerRole: readerRole.isEmpty ? nil : readerRole, quarantine: quarantine,
            transactionRecords: transactionRecords,
            pollIntervalMilliseconds: try resolvedPollIntervalMilliseconds(), exitWhenCaughtUp: exitWhenCaughtUp,
            retentionDays: try resolvedRetentionDays())
        try await ServiceProcess.main(
            "ledger-projector", event: "projector", logging: logging, metricsPort: try resolvedMetricsPort(),
            metricHelp: ProjectorMetrics.help,
            configuration: [
                "postgres.url": "\(ConnectionString.redacted(postgresURL))", "warehouse.schema": "\(schema)",
                "ledger.paths": "\(ledgerDirectories.joined(separator: ","))",
                "projector.quarantine": "\(quarantine)", "projector.transaction_records": "\(transactionRecords)",
                "warehouse.retention_days": "\(try resolvedRetentionDays())",
            ]
        ) { logger, health in
            ProjectorService.make(configuration: configuration, health: health, logger: logger)
        }
    }
}
