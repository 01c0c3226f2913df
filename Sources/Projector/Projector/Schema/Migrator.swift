import Foundation
import Logging
import OperatingErrors
import PostgresClient

/// One forward-only schema migration: a numbered file of `schema/`, carried in the binary.
public struct Migration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let sql: String

    /// FNV-1a (64 bits, hex) of the SQL text: an applied migration whose text changed is refused.
    public var checksum: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sql.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return String(hash, radix: 16)
    }

    /// The migrations this binary knows, in order (embedded from `schema/`, see Migrations.swift).
    public static var all: [Migration] { embedded }

    /// The newest schema version this binary can work with.
    public static var latestVersion: Int { embedded.last?.version ?? 0 }
}

/// Applies the migrations a warehouse schema lacks, and refuses a schema newer than the code.
enum Migrator {
    struct Outcome: Sendable {
        var appliedVersions: [Int]
        var currentVersion: Int
    }

    /// Brings `schema` to `Migration.latestVersion`: creates the schema if needed, then, in one transaction
    /// serialised with any other migrator by an advisory lock, checks what is applied (refusing a newer or
    /// altered schema), applies what is missing, records it, and grants `readerRole` read access.
    static func migrate(_ connection: PostgresConnection, schema: WarehouseSchema, readerRole: String?, logger: Logger)
        throws -> Outcome
    {
        try createSchemaIfMissing(connection, schema)
        try connection.execute("BEGIN")
        do {
            try connection.query("SELECT pg_advisory_xact_lock($1)", [String(schema.advisoryLockKey("migrate"))])
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS \(schema.migrations) (
                    version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """)
            let applied = try appliedMigrations(connection, schema)
            try check(applied, schema: schema)
            let pending = Migration.all.filter { $0.version > (applied.last?.version ?? 0) }
            for migration in pending {
                try connection.execute("SET LOCAL search_path TO \(schema.quoted)")
                try connection.execute(migration.sql)
                try connection.query(
                    "INSERT INTO \(schema.migrations) (version, name, checksum) VALUES ($1, $2, $3)",
                    [String(migration.version), migration.name, migration.checksum])
                logger.info(
                    "projector.schema.migrated",
                    metadata: ["warehouse.schema": "\(schema)", "warehouse.migration": "\(migration.name)"])
            }
            if let readerRole { try grantRead(connection, schema: schema, role: readerRole, logger: logger) }
            try connection.execute("COMMIT")
            return Outcome(appliedVersions: pending.map(\.version), currentVersion: Migration.latestVersion)
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// The version of `schema` (0 when it has no migrations table), without changing anything.
    static func currentVersion(_ connection: PostgresConnection, schema: WarehouseSchema) throws -> Int {
        let exists = try connection.query("SELECT to_regclass($1) IS NOT NULL", [schema.migrations]).scalar == "t"
        guard exists else { return 0 }
        return Int(try connection.query("SELECT coalesce(max(version), 0) FROM \(schema.migrations)").scalar ?? "0")
            ?? 0
    }

    private static func createSchemaIfMissing(_ connection: PostgresConnection, _ schema: WarehouseSchema) throws {
        let exists = try connection.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema.name]).count == 1
        guard !exists else { return }
        do {
            try connection.execute("CREATE SCHEMA IF NOT EXISTS \(schema.quoted)")
        } catch let error as ProjectorError where error.sqlState == "23505" || error.sqlState == "42P06" {
            // Another migrator created it between our check and our CREATE: that is what we wanted.
        }
    }

    private static func appliedMigrations(_ connection: PostgresConnection, _ schema: WarehouseSchema) throws -> [(
        version: Int, name: String, checksum: String
    )] {
        let rows = try connection.query("SELECT version, name, checksum FROM \(schema.migrations) ORDER BY version")
        return (0..<rows.count).map { row in
            (
                Int(rows.value(row, "version") ?? "") ?? -1, rows.value(row, "name") ?? "",
                rows.value(row, "checksum") ?? ""
            )
        }
    }

    /// Refuses a schema migrated by newer code, an applied migration whose text changed, or a hole.
    private static func check(_ applied: [(version: Int, name: String, checksum: String)], schema: WarehouseSchema)
        throws
    {
        if let newest = applied.last, newest.version > Migration.latestVersion {
            throw ProjectorError(
                .schemaTooNew, "the warehouse schema is newer than this binary: upgrade ledger-projector / ledger-tool",
                [
                    ("warehouse.schema", schema.name), ("expected_at_most", String(Migration.latestVersion)),
                    ("found", String(newest.version)),
                    ("found_name", newest.name),
                ])
        }
        for (index, row) in applied.enumerated() {
            let known = Migration.all[index]
            guard row.version == known.version else {
                throw ProjectorError(
                    .migrationChanged, "applied migrations are not a prefix of the known ones",
                    [
                        ("warehouse.schema", schema.name), ("expected", String(known.version)),
                        ("found", String(row.version)),
                    ])
            }
            guard row.checksum == known.checksum else {
                throw ProjectorError(
                    .migrationChanged,
                    "an applied migration differs from the one this binary carries (migrations are forward-only: add a new one)",
                    [
                        ("warehouse.schema", schema.name), ("migration", known.name),
                        ("expected_checksum", known.checksum), ("found_checksum", row.checksum),
                    ])
            }
        }
    }

    /// Lets `role` read everything in the schema, now and later (partitions created afterwards), and nothing
    /// more. Skipped, with a warning, when the role does not exist: roles are cluster-wide and created by the
    /// operator (see scripts/lib.sh), not by migrations.
    static func grantRead(_ connection: PostgresConnection, schema: WarehouseSchema, role: String, logger: Logger)
        throws
    {
        guard try connection.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]).count == 1 else {
            logger.warning(
                "projector.schema.reader_role_missing",
                metadata: ["warehouse.schema": "\(schema)", "warehouse.reader_role": "\(role)"])
            return
        }
        let quotedRole = WarehouseSchema.quote(role)
        try connection.execute(
            """
            GRANT USAGE ON SCHEMA \(schema.quoted) TO \(quotedRole);
            GRANT SELECT ON ALL TABLES IN SCHEMA \(schema.quoted) TO \(quotedRole);
            ALTER DEFAULT PRIVILEGES IN SCHEMA \(schema.quoted) GRANT SELECT ON TABLES TO \(quotedRole);
            """)
    }
}
