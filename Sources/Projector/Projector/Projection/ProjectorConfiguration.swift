import Foundation
import PostgresClient
import ServiceKit

/// What `ledger-projector` was asked to do.
public struct ProjectorConfiguration: Sendable {
    /// The ledger directories to project (one per ledger-ingest instance), each at its own checkpoint.
    public var ledgerDirectories: [String]
    /// The warehouse: a `postgres://` URL or `key=value` connection string. Never logged as given.
    public var postgresURL: String
    public var schema: WarehouseSchema
    /// The SELECT-only role granted read access after migrations (nil: grant nothing).
    public var readerRole: String?
    /// Set aside records that cannot be projected (table `quarantined_records`) instead of stopping.
    public var quarantine: Bool
    /// Most ledger records per PostgreSQL transaction.
    public var transactionRecords: Int
    /// Sleep between looks at a fully projected ledger.
    public var pollIntervalMilliseconds: Int
    /// Exit 0 once every ledger's durable records are in the warehouse (batch jobs, tests), instead of following.
    public var exitWhenCaughtUp: Bool
    /// Warehouse retention: days of transactions kept (today and the days before it); older daily partitions are
    /// dropped at start and every `partitionMaintenanceIntervalSeconds`. 0 keeps everything.
    public var retentionDays: Int

    public init(
        ledgerDirectories: [String], postgresURL: String, schema: WarehouseSchema,
        readerRole: String? = "grafana_reader",
        quarantine: Bool = false, transactionRecords: Int = ProjectorLimits.transactionRecordsDefault,
        pollIntervalMilliseconds: Int = ProjectorLimits.followPollIntervalMillisecondsDefault,
        exitWhenCaughtUp: Bool = false, retentionDays: Int = 0
    ) {
        precondition(!ledgerDirectories.isEmpty, "at least one ledger")
        precondition(
            ProjectorLimits.transactionRecordsRange.contains(transactionRecords), "transaction size within its bounds")
        precondition(pollIntervalMilliseconds > 0, "a positive poll interval")
        precondition(retentionDays >= 0, "a number of days")
        self.ledgerDirectories = ledgerDirectories
        self.postgresURL = postgresURL
        self.schema = schema
        self.readerRole = readerRole
        self.quarantine = quarantine
        self.transactionRecords = transactionRecords
        self.pollIntervalMilliseconds = pollIntervalMilliseconds
        self.exitWhenCaughtUp = exitWhenCaughtUp
        self.retentionDays = retentionDays
    }
}

extension ProjectorConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    /// Without the password: ServiceLifecycle logs its services' descriptions (at debug level), and this
    /// configuration travels inside `ProjectorService`.
    public var description: String {
        "ProjectorConfiguration(ledgers: \(ledgerDirectories), postgres: \(ConnectionString.redacted(postgresURL)), schema: \(schema), "
            + "readerRole: \(readerRole ?? "none"), quarantine: \(quarantine), transactionRecords: \(transactionRecords), "
            + "pollIntervalMilliseconds: \(pollIntervalMilliseconds), exitWhenCaughtUp: \(exitWhenCaughtUp), retentionDays: \(retentionDays))"
    }

    public var debugDescription: String { description }
}
