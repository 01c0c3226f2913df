import Foundation
import Ledger
import LedgerTesting
import OperatingErrors
import Testing

@testable import Projector

/// Every test that talks to PostgreSQL lives under this suite: they run one at a time (one of them restarts the
/// server), each in a schema of its own.
@Suite(.serialized, .timeLimit(.minutes(3))) enum Warehouse {}

extension Warehouse {
    /// Migrations, roles and versioned rules.
    @Suite struct Schema {
        @Test func migrationsApplyOnceAndAreRecorded() throws {
            try TestPostgres.withSchema { schema in
                let first = try WarehouseMaintenance.migrate(
                    postgresURL: try TestPostgres.url(), schema: schema, readerRole: "grafana_reader",
                    logger: quietLogger)
                #expect(first.appliedVersions == Array(1...Migration.latestVersion))
                let second = try WarehouseMaintenance.migrate(
                    postgresURL: try TestPostgres.url(), schema: schema, readerRole: "grafana_reader",
                    logger: quietLogger)
                #expect(second.appliedVersions.isEmpty && second.currentVersion == Migration.latestVersion)
                let connection = try TestPostgres.connect()
                let recorded = try connection.query(
                    "SELECT version, name, checksum FROM \(schema.migrations) ORDER BY version")
                #expect((0..<recorded.count).map { recorded.value($0, "name")! } == Migration.all.map(\.name))
                #expect((0..<recorded.count).map { recorded.value($0, "checksum")! } == Migration.all.map(\.checksum))
                #expect(
                    try connection.text(
                        "SELECT relkind::text FROM pg_class WHERE oid = $1::regclass", [schema.transactions]) == "p",
                    "transactions is partitioned")
                #expect(
                    try connection.integer(
                        "SELECT count(*) FROM pg_inherits WHERE inhparent = $1::regclass", [schema.transactions]) == 1,
                    "only DEFAULT before any row")
                #expect(
                    try connection.text(
                        "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", [schema.name])
                        == "pulse_owner")
            }
        }

        @Test func aSchemaNewerThanTheCodeIsRefused() throws {
            let scratch = ScratchDirectory()
            try TestPostgres.withSchema { schema in
                let url = try TestPostgres.url()
                _ = try WarehouseMaintenance.migrate(
                    postgresURL: url, schema: schema, readerRole: nil, logger: quietLogger)
                try TestPostgres.connect().query(
                    "INSERT INTO \(schema.migrations) (version, name, checksum) VALUES ($1, 'from_the_future.sql', 'x')",
                    [String(Migration.latestVersion + 1)])
                let error = #expect(throws: ProjectorError.self) {
                    try WarehouseMaintenance.migrate(
                        postgresURL: url, schema: schema, readerRole: nil, logger: quietLogger)
                }
                #expect(error?.code == .schemaTooNew && error?.context("found") == String(Migration.latestVersion + 1))
                // The service refuses too, and exits 1 instead of retrying.
                let ledger = try HandLedger(directory: scratch.file("ledger"))
                try ledger.close()
                let projector = try startProjector(
                    [
                        "--wal", scratch.file("ledger"), "--postgres", url, "--schema", schema.name,
                        "--exit-when-caught-up",
                    ],
                    logPath: scratch.file("stderr"))
                #expect(projector.waitForExit(timeoutSeconds: 30, killingOnTimeout: true) == 1)
                #expect(projector.log.contains("schema_too_new"), "\(projector.log)")
            }
        }

        @Test func anAppliedMigrationThatChangedIsRefused() throws {
            try TestPostgres.withSchema { schema in
                let url = try TestPostgres.url()
                _ = try WarehouseMaintenance.migrate(
                    postgresURL: url, schema: schema, readerRole: nil, logger: quietLogger)
                try TestPostgres.connect().query(
                    "UPDATE \(schema.migrations) SET checksum = 'edited' WHERE version = 2")
                let error = #expect(throws: ProjectorError.self) {
                    try WarehouseMaintenance.migrate(
                        postgresURL: url, schema: schema, readerRole: nil, logger: quietLogger)
                }
                #expect(error?.code == .migrationChanged && error?.context("migration") == Migration.all[1].name)
            }
        }

        /// grafana_reader reads every table and view, including partitions created after the grant, and can
        /// change nothing.
        @Test func theReaderRoleCanReadButNotWrite() throws {
            try withHandLedger { ledger, schema, scratch in
                try ledger.accept(HandLedger.transaction(1, cents: 12_345, microseconds: microseconds(2024, 6, 1, 12)))
                try ledger.close()
                try projectInProcess([ledger.directory], into: schema)
                let reader = try TestPostgres.connect(try TestPostgres.readerURL())
                #expect(try reader.text("SELECT current_user") == "grafana_reader")
                #expect(try reader.integer("SELECT count(*) FROM \(schema.transactions)") == 1)
                #expect(
                    try reader.integer("SELECT count(*) FROM \(schema.table("transactions_p20240601"))") == 1,
                    "a partition created after the grant")
                for view in [
                    "flagged_transactions", "fraud_rate_per_minute", "revenue_by_category", "customer_velocity",
                    "rejected_per_minute", "daily_digest",
                ] {
                    #expect(throws: Never.self) { try reader.query("SELECT * FROM \(schema.table(view)) LIMIT 1") }
                }
                let writes = [
                    "INSERT INTO \(schema.checkpoints) (ledger_id, last_lsn) VALUES (gen_random_uuid(), 1)",
                    "UPDATE \(schema.transactions) SET amount = 1",
                    "DELETE FROM \(schema.messageKeys)",
                    "TRUNCATE \(schema.rejectedMessages)",
                    "INSERT INTO \(schema.fraudRules) (version, rule, description, amount_threshold) VALUES (99, 'amount_above', 'x', 1)",
                    "CREATE TABLE \(schema.table("sneaky")) (x int)",
                    "DROP VIEW \(schema.table("daily_digest"))",
                    "CREATE TABLE public.sneaky (x int)",
                ]
                for statement in writes {
                    let error = #expect(throws: ProjectorError.self, "\(statement)") { try reader.query(statement) }
                    #expect(
                        ["42501", "42809"].contains(error?.sqlState ?? ""), "\(statement): \(String(describing: error))"
                    )
                }
            }
        }

        /// Issue 13: a message's members outside the schema, kept by `--unknown-fields keep`, reach the warehouse's
        /// `extra_members` jsonb column as the same JSON; rows without them hold NULL.
        @Test func extraMembersAreProjectedAsJSONB() throws {
            try withHandLedger { ledger, schema, _ in
                var kept = HandLedger.transaction(1, cents: 1_000, microseconds: microseconds(2024, 6, 1, 12))
                kept.extraMembers = #"{"payment_method":"card","meta":{"a":[1,null]}}"#
                try ledger.accept(kept)
                try ledger.accept(HandLedger.transaction(2, cents: 1_000, microseconds: microseconds(2024, 6, 1, 13)))
                try ledger.close()
                try projectInProcess([ledger.directory], into: schema)
                let rows = try TestPostgres.connect().query(
                    "SELECT extra_members->>'payment_method' AS method, extra_members->'meta'->'a'->>0 AS first, extra_members IS NULL AS absent FROM \(schema.transactions) ORDER BY lsn"
                )
                #expect(rows.values.map { $0.map { $0 ?? "null" } } == [["card", "1", "f"], ["null", "null", "t"]])
            }
        }

        /// Issue 13: the fraud threshold and the tax rate are versioned configuration. Versions are immutable and
        /// take effect from their time on, never in the past; each row gets the versions in force at its transaction
        /// time and records them; a rebuild (which carries the live versions over) gives every row the same ones.
        @Test func ratesAndRulesAreVersionedAndAppliedAtEachRowsTime() throws {
            try withHandLedger { ledger, schema, scratch in
                let tomorrow = Int64(Date().addingTimeInterval(86_400).timeIntervalSince1970) * 1_000_000
                try ledger.accept(HandLedger.transaction(1, cents: 60_000, microseconds: microseconds(2024, 6, 1, 12)))
                try ledger.commit()
                try projectInProcess([ledger.directory], into: schema)
                let connection = try TestPostgres.connect()
                let update = #expect(throws: ProjectorError.self) {
                    try connection.query("UPDATE \(schema.fraudRules) SET amount_threshold = 1 WHERE version = 1")
                }
                #expect(update?.sqlState == "23000")
                #expect(throws: ProjectorError.self) { try connection.query("DELETE FROM \(schema.fraudRules)") }
                #expect(throws: ProjectorError.self) { try connection.query("UPDATE \(schema.taxRates) SET rate = 0") }
                let past = #expect(throws: ProjectorError.self) {
                    try connection.query(
                        "INSERT INTO \(schema.taxRates) (version, rate, effective_from, description) VALUES (2, 0.1, '2024-01-01', 'x')"
                    )
                }
                #expect(past?.sqlState == "23514", "a version may not take effect in the past")
                try connection.query(
                    "INSERT INTO \(schema.fraudRules) (version, rule, description, amount_threshold) VALUES (3, 'amount_above', 'amount above 500.00', 500.00)"
                )
                try connection.query(
                    "INSERT INTO \(schema.taxRates) (version, rate, description) VALUES (2, 0.20000, '20 %')")
                // Projected after the new versions: a row from before them keeps the old ones, a row after gets the new.
                try ledger.accept(HandLedger.transaction(2, cents: 60_000, microseconds: microseconds(2024, 6, 1, 13)))
                try ledger.accept(HandLedger.transaction(3, cents: 60_000, microseconds: tomorrow))
                try ledger.close()
                try projectInProcess([ledger.directory], into: schema)
                let query =
                    "SELECT lsn, is_fraud_flagged, rules_version, tax_amount::text, tax_rate_version FROM \(schema.transactions) ORDER BY lsn"
                let expected = [
                    ["1", "f", "1", "51.00", "1"], ["2", "f", "1", "51.00", "1"], ["3", "t", "3", "120.00", "2"],
                ]
                #expect(try connection.query(query).values.map { $0.compactMap { $0 } } == expected)
                #expect(
                    try connection.text("SELECT rule FROM \(schema.table("flagged_transactions"))")
                        == "amount above 500.00")
                let options = WarehouseRebuild.Options(
                    ledgerDirectories: [ledger.directory], postgresURL: try TestPostgres.url(), schema: schema,
                    verify: true)
                let report = try WarehouseRebuild(options: options, logger: quietLogger).run()
                #expect(report.verifiedDays == 2)
                #expect(try connection.query(query).values.map { $0.compactMap { $0 } } == expected)
                #expect(try connection.integer("SELECT count(*) FROM \(schema.taxRates)") == 2)
            }
        }
    }
}
