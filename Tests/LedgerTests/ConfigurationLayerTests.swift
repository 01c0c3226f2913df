import Foundation
import LedgerTesting
import Testing

@testable import Ledger

/// Issue 13: one configuration layer for the three binaries (`Settings`): a flag wins, then the environment (a
/// secret may come from NAME_FILE), then the JSON file of --config or PULSE_CONFIG; a malformed value is refused
/// with where it came from; `--help` never prints a setting's value, secrets least of all.
@Suite struct ConfigurationLayerTests {
    private func run(_ product: String, _ arguments: [String], _ environment: [String: String]) throws -> ProductRun {
        try ProductRun(
            product, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
    }

    @Test func helpNeverShowsSettingsOrSecrets() throws {
        let environment = [
            "DATABASE_URL": "postgres://owner:SECRET-1@db.example/warehouse",
            "KAFKA_PROPERTIES": "sasl.password=SECRET-2", "KAFKA_BROKERS": "secret-3.example:9092",
            "LEDGER_WAL_DIR": "/secret-4", "WAREHOUSE_SCHEMA": "secret_5", "METRICS_PORT": "9999",
            "LOG_LEVEL": "secret-6", "LOG_FORMAT": "secret-7", "LEDGER_ARCHIVE_URL": "file:///secret-8",
        ]
        let commands: [(String, [String])] = [
            ("ledger-ingest", []), ("ledger-projector", []), ("ledger-tool", ["status"]), ("ledger-tool", ["produce"]),
            ("ledger-tool", ["migrate"]), ("ledger-tool", ["dlq", "replay"]),
            ("ledger-tool", ["rebuild", "warehouse"]),
            ("ledger-tool", ["stats"]), ("ledger-tool", ["trace"]),
        ]
        for (product, command) in commands {
            let help = try run(product, command + ["--help"], environment)
            #expect(help.status == 0)
            #expect(
                !help.output.lowercased().contains("secret") && !help.output.contains("9999"), "\(product) \(command)")
        }
    }

    @Test func aFlagWinsOverTheEnvironmentWhichWinsOverTheFile() throws {
        let scratch = ScratchDirectory()
        let (ten, twenty) = (scratch.file("ten"), scratch.file("twenty"))
        try LedgerWriter(directory: ten).appendSamples(0..<10, perCommit: 10)
        try LedgerWriter(directory: twenty).appendSamples(0..<20, perCommit: 10)
        try #"{"ledger": {"wal": {"dir": "\#(ten)"}}}"#.write(
            toFile: scratch.file("nested.json"), atomically: true, encoding: .utf8)
        try #"{"ledger.wal.dir": "\#(ten)"}"#.write(
            toFile: scratch.file("flat.json"), atomically: true, encoding: .utf8)
        func durableLSN(_ arguments: [String], _ environment: [String: String]) throws -> Int? {
            let stats = try run("ledger-tool", ["stats", "-o", "json"] + arguments, environment)
            let object = try JSONSerialization.jsonObject(with: Data(stats.output.utf8)) as? [String: Any]
            return object?["durable_lsn"] as? Int
        }
        #expect(try durableLSN([], ["PULSE_CONFIG": scratch.file("nested.json")]) == 10)
        #expect(try durableLSN([], ["PULSE_CONFIG": scratch.file("flat.json")]) == 10)
        #expect(try durableLSN([], ["PULSE_CONFIG": scratch.file("nested.json"), "LEDGER_WAL_DIR": twenty]) == 20)
        #expect(try durableLSN(["--wal", ten], ["LEDGER_WAL_DIR": twenty]) == 10)
    }

    @Test func aMalformedValueIsRefusedWithWhereItCameFrom() throws {
        let scratch = ScratchDirectory()
        try #"{"metrics": {"port": 1.5}}"#.write(toFile: scratch.file("pulse.json"), atomically: true, encoding: .utf8)
        let refused = try run(
            "ledger-ingest", ["--config", scratch.file("pulse.json"), "--wal", scratch.file("never")], [:])
        #expect(refused.status != 0)
        #expect(refused.errors.contains("metrics.port = 1.5 in \(scratch.file("pulse.json")) is not a whole number"))
        let unreadable = try run("ledger-tool", ["stats"], ["PULSE_CONFIG": scratch.file("missing.json")])
        #expect(unreadable.status == 2 && unreadable.errors.contains("missing.json"), "\(unreadable.errors)")
    }

    @Test func aSecretComesFromItsFileAndBothAtOnceAreRefused() throws {
        let scratch = ScratchDirectory()
        let secret = scratch.file("database-url")
        try "postgres://owner:SECRET-PASSWORD@127.0.0.1:\(try freePort())/warehouse\n".write(
            toFile: secret, atomically: true, encoding: .utf8)
        let fromFile = try run("ledger-tool", ["migrate"], ["DATABASE_URL_FILE": secret])
        // Nothing listens there: the command could not run, and says where it tried, without the password.
        #expect(fromFile.status == 2 && fromFile.errors.contains("127.0.0.1"), "\(fromFile.errors)")
        #expect(!fromFile.errors.contains("SECRET-PASSWORD"))
        let both = try run(
            "ledger-tool", ["migrate"], ["DATABASE_URL_FILE": secret, "DATABASE_URL": "postgres://elsewhere/db"])
        #expect(both.status == 2 && both.errors.contains("both DATABASE_URL and DATABASE_URL_FILE are set"))
    }

    @Test func aKafkaPropertiesFileReachesLibrdkafka() throws {
        let scratch = ScratchDirectory()
        try "# kcat -F format\n\nclient.id = a,b,c\nmessage.max.bytes=not-a-number\n".write(
            toFile: scratch.file("kafka.properties"), atomically: true, encoding: .utf8)
        let produce = try run(
            "ledger-tool",
            ["produce", "--count", "1", "--brokers", "127.0.0.1:1", "-F", scratch.file("kafka.properties")],
            [:])
        #expect(produce.status == 2 && produce.errors.contains("message.max.bytes"), "\(produce.errors)")
        let fromEnvironment = try run(
            "ledger-tool", ["produce", "--count", "1", "--brokers", "127.0.0.1:1"],
            ["KAFKA_PROPERTIES_FILE": scratch.file("kafka.properties")])
        #expect(fromEnvironment.status == 2 && fromEnvironment.errors.contains("message.max.bytes"))
        try "sasl.password SECRET-3\n".write(
            toFile: scratch.file("broken.properties"), atomically: true, encoding: .utf8)
        let broken = try run(
            "ledger-tool",
            ["status", "--no-kafka", "-F", scratch.file("broken.properties"), "--wal", scratch.file("x")],
            [:])
        #expect(broken.status == 2 && broken.errors.contains("line 1: expected key=value"), "\(broken.errors)")
        #expect(!broken.errors.contains("SECRET-3"))
    }
}
