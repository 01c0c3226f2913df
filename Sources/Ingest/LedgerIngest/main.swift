import ArgumentParser
import Foundation
import Ingest
import Ledger
import LedgerTesting
import Logging
import ServiceKit
import ServiceLifecycle

@main
struct LedgerIngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-ingest",
        abstract:
            "Drain a Kafka topic into the ledger: durable (fsync) before the offsets are committed, each offset once.",
        discussion:
            "Every option can also be set by the environment variable named in its help. SIGTERM or SIGINT drains, fsyncs, commits and exits 0."
    )

    @Option(help: "Kafka bootstrap servers (env KAFKA_BROKERS).") var brokers = env("KAFKA_BROKERS") ?? "127.0.0.1:9092"
    @Option(help: "Topic to consume (env KAFKA_TOPIC).") var topic = env("KAFKA_TOPIC") ?? "transactions"
    @Option(name: .customLong("dlq-topic"), help: "Dead-letter topic (env KAFKA_DLQ_TOPIC).") var deadLetterTopic =
        env("KAFKA_DLQ_TOPIC") ?? "transactions.dlq"
    @Option(help: "Consumer group (env KAFKA_GROUP).") var group = env("KAFKA_GROUP") ?? "ledger-ingest"
    @Option(name: .customLong("wal"), help: "Ledger directory (env LEDGER_WAL_DIR).") var ledgerDirectory =
        env("LEDGER_WAL_DIR") ?? "./ledger"
    @Option(help: "Port of /metrics and /healthz, 0 to disable (env METRICS_PORT).") var metricsPort =
        Int(env("METRICS_PORT") ?? "") ?? 9464
    @Option(
        name: .customShort("X"),
        help: ArgumentHelp(
            "A librdkafka property, e.g. -X security.protocol=SASL_SSL (repeatable; env KAFKA_PROPERTIES, comma-separated).",
            valueName: "key=value"))
    var clientProperties: [String] = env("KAFKA_PROPERTIES").map { $0.split(separator: ",").map(String.init) } ?? []
    @Flag(
        help:
            "If offsets were deleted by retention before they were ingested, record the gap in the ledger and continue from the earliest available offset (default: stop)."
    )
    var allowGaps = false
    @OptionGroup var logging: LoggingOptions
    @Option(help: .hidden) var injectFault: String?

    func validate() throws {
        try IntegerEnvironment.check(["METRICS_PORT"])
        guard (0...65535).contains(metricsPort) else { throw ValidationError("--metrics-port is 0...65535") }
        _ = try properties()
        _ = try injectFault.map { try FaultPlan(specification: $0) }
    }

    func properties() throws -> [String: String] {
        var result: [String: String] = [:]
        for item in clientProperties {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ValidationError("-X expects key=value, got \(redactingSecrets(item))")
            }
            result[parts[0]] = parts[1]
        }
        return result
    }

    func run() async throws {
        let configuration = IngestConfiguration(
            brokers: brokers, topic: topic, deadLetterTopic: deadLetterTopic, group: group,
            ledgerDirectory: ledgerDirectory,
            clientProperties: try properties(), allowGaps: allowGaps,
            fileSystem: try injectFault.map { FaultInjectingFileSystem(plan: try FaultPlan(specification: $0)) }
                ?? PosixFileSystem())
        try await ServiceProcess.main(
            "ledger-ingest", event: "ingest", logging: logging, metricsPort: metricsPort,
            metricHelp: IngestMetrics.help,
            configuration: [
                "kafka.brokers": "\(redactingSecrets(brokers))", "kafka.topic": "\(topic)",
                "kafka.group": "\(group)", "ledger.path": "\(ledgerDirectory)",
                "kafka.properties": "\(configuration.clientProperties.keys.sorted().joined(separator: ","))",
            ]
        ) { logger, health in
            IngestService.make(configuration: configuration, logger: logger, health: health)
        }
    }
}

func env(_ name: String) -> String? { ProcessInfo.processInfo.environment[name] }
