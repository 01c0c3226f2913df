import Foundation
import LedgerTesting
import Testing

@testable import Projector

extension Warehouse {
    /// Issue 13: `ledger-tool status` shows in one place where the pipeline stands (Kafka's high watermarks, the
    /// ledger's watermarks, the warehouse checkpoint, both lags), against a real broker, real services and a real
    /// PostgreSQL. Each figure is checked against what the test did: messages produced, services stopped.
    @Suite struct StatusCommandTests {
        private struct Pipeline {
            let broker: DevBroker
            let ledger: String
            let schema: WarehouseSchema

            func produce(_ count: Int, seed: Int) throws {
                let run = try ProductRun(
                    "ledger-tool",
                    [
                        "produce", "--brokers", broker.bootstrap, "--count", "\(count)", "--invalid-ratio", "0.05",
                        "--seed", "\(seed)",
                    ])
                guard run.status == 0 else { throw TestFailure("produce failed: \(run.errors)") }
            }

            /// `ledger-tool status -o json`, decoded; the exit status too.
            func status(sampleSeconds: Double = 0.5) throws -> (json: [String: Any], status: Int32) {
                let run = try ProductRun(
                    "ledger-tool",
                    [
                        "status", "-o", "json", "--wal", ledger, "--brokers", broker.bootstrap, "--postgres",
                        try TestPostgres.url(), "--schema", schema.name, "--sample-seconds", "\(sampleSeconds)",
                    ])
                let object = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any]
                guard let object else {
                    throw TestFailure("status printed no JSON object: \(run.output) \(run.errors)")
                }
                return (object, run.status)
            }
        }

        @Test func statusFollowsKafkaTheLedgerAndTheWarehouse() throws {
            let scratch = ScratchDirectory()
            let broker = try DevBroker(partitions: 3)
            try TestPostgres.withSchema { schema in
                let pipeline = Pipeline(broker: broker, ledger: scratch.file("ledger"), schema: schema)
                try pipeline.produce(600, seed: 1)
                let ingest = try ChildProcess(
                    product: "ledger-ingest", ["--brokers", broker.bootstrap, "--wal", pipeline.ledger],
                    logPath: scratch.file("ingest.log"))
                defer { _ = ingest.stop() }
                let projector = try startFollowingProjector(pipeline.ledger, into: schema, scratch: scratch).process
                var last: [String: Any] = [:]
                // Caught up: every message in the ledger and in the warehouse, no lag anywhere.
                #expect(
                    eventually(seconds: 60) {
                        last = try pipeline.status().json
                        return Self.ledger(last)["durable_lsn"] as? Int == 600
                            && Self.warehouse(last)["lag_records"] as? Int == 0
                    }, "\(last)")
                #expect(Self.kafka(last)["high_watermark_total"] as? Int == 600)
                #expect(Self.partitions(last).map { $0["lag_messages"] as? Int } == [0, 0, 0])
                #expect(Self.warehouse(last)["checkpoint_lsn"] as? Int == 600)
                let rejected = try TestPostgres.connect().integer("SELECT count(*) FROM \(schema.rejectedMessages)")
                #expect(Self.ledger(last)["dead_letters"] as? Int == rejected && rejected > 0)

                // The projector stopped: the warehouse falls behind by what ingest records after it, and the wait grows.
                _ = projector.stop()
                try pipeline.produce(300, seed: 2)
                #expect(
                    eventually(seconds: 60) { Self.ledger(try pipeline.status().json)["durable_lsn"] as? Int == 900 })
                Thread.sleep(forTimeInterval: 1)
                last = try pipeline.status().json
                #expect(Self.warehouse(last)["lag_records"] as? Int == 300)
                #expect((Self.warehouse(last)["lag_seconds"] as? Double ?? 0) >= 1, "\(last)")

                // Ingest stopped too: Kafka holds what the ledger lacks, per partition, and nothing moves.
                _ = ingest.stop()
                try pipeline.produce(150, seed: 3)
                let (stalled, status) = try pipeline.status()
                #expect(status == 0)
                #expect(Self.partitions(stalled).compactMap { $0["lag_messages"] as? Int }.reduce(0, +) == 150)
                #expect(Self.partitions(stalled).allSatisfy { $0["messages_per_second"] as? Double == 0 })
                #expect(
                    Self.partitions(stalled).allSatisfy { $0["lag_seconds"] == nil || $0["lag_messages"] as? Int == 0 })
            }
        }

        @Test func aServiceThatDoesNotAnswerIsReportedAndExitsTwo() throws {
            let scratch = ScratchDirectory()
            let generated = try ProductRun("ledger-tool", ["generate", "--count", "10", "--seed", "4"])
            try generated.output.write(toFile: scratch.file("orders.jsonl"), atomically: true, encoding: .utf8)
            let ledger = scratch.file("ledger")
            #expect(
                try ProductRun("ledger-tool", ["import", "--wal", ledger, scratch.file("orders.jsonl")]).status == 0)
            let run = try ProductRun(
                "ledger-tool",
                ["status", "--wal", ledger, "--brokers", "127.0.0.1:\(try freePort())", "--sample-seconds", "0"])
            #expect(run.status == 2)
            #expect(run.output.contains("durable LSN 10,") && run.output.contains("problem: kafka"), "\(run.output)")
        }

        private static func ledger(_ status: [String: Any]) -> [String: Any] {
            (status["ledgers"] as? [[String: Any]])?.first ?? [:]
        }

        private static func warehouse(_ status: [String: Any]) -> [String: Any] {
            ledger(status)["warehouse"] as? [String: Any] ?? [:]
        }

        private static func kafka(_ status: [String: Any]) -> [String: Any] { status["kafka"] as? [String: Any] ?? [:] }

        private static func partitions(_ status: [String: Any]) -> [[String: Any]] {
            ledger(status)["partitions"] as? [[String: Any]] ?? []
        }
    }
}

extension Warehouse {
    /// Issue 13: without a URL, the warehouse commands and ledger-projector connect as psql does: libpq's PGHOST,
    /// PGPORT, PGUSER, PGDATABASE, and the password from ~/.pgpass (here PGPASSFILE), never from an argument.
    @Suite struct LibpqEnvironmentTests {
        @Test func migrateConnectsWithPGVariablesAndAPasswordFile() throws {
            let scratch = ScratchDirectory()
            let url = try #require(URLComponents(string: try TestPostgres.url()))
            let (host, port, user) = (url.host ?? "127.0.0.1", url.port ?? 5432, url.user ?? "postgres")
            let database = String(url.path.dropFirst())
            try "\(host):\(port):\(database):\(user):\(url.password ?? "")\n".write(
                toFile: scratch.file("pgpass"), atomically: true, encoding: .utf8)
            chmod(scratch.file("pgpass"), 0o600)  // libpq ignores a password file others can read
            try TestPostgres.withSchema { schema in
                var environment = ProcessInfo.processInfo.environment
                environment["DATABASE_URL"] = nil
                environment.merge([
                    "PGHOST": host, "PGPORT": "\(port)", "PGUSER": user, "PGDATABASE": database,
                    "PGPASSFILE": scratch.file("pgpass"),
                ]) { $1 }
                let migrate = try ProductRun(
                    "ledger-tool", ["migrate", "--schema", schema.name, "-o", "json"], environment: environment)
                #expect(migrate.status == 0, "\(migrate.errors)")
                #expect(migrate.output.contains("\"warehouse_schema\":\"\(schema.name)\""), "\(migrate.output)")
            }
        }
    }
}
