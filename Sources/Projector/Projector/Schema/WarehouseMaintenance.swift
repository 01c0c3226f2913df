import Foundation
import Logging
import PostgresClient

/// Operator actions on the warehouse schema, for `ledger-tool`.
public enum WarehouseMaintenance {
    public struct MigrationOutcome: Sendable {
        /// Versions applied by this call (empty when the schema was up to date).
        public var appliedVersions: [Int]
        /// The schema's version now: `Migration.latestVersion`.
        public var currentVersion: Int
    }

    /// Applies the migrations `schema` lacks (creating it if needed) and grants `readerRole` read access.
    /// Refuses a schema migrated by newer code, or one whose applied migrations differ from this binary's.
    public static func migrate(postgresURL: String, schema: WarehouseSchema, readerRole: String?, logger: Logger) throws
        -> MigrationOutcome
    {
        let connection = try PostgresConnection(url: postgresURL, applicationName: "ledger-tool migrate")
        let outcome = try Migrator.migrate(connection, schema: schema, readerRole: readerRole, logger: logger)
        return MigrationOutcome(appliedVersions: outcome.appliedVersions, currentVersion: outcome.currentVersion)
    }
}
