import ArgumentParser
import Foundation
import Ingest
import Ledger
import LedgerTesting
import Logging
import MessageSchema
import ServiceKit
import ServiceLifecycle

@main
struct LedgerIngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-ingest",
        abstract:
            "Drain a Kafka topic into the ledger: durable (fsync) before the offsets are committed, each offset once.",
        discussion:
            "Every option can also be set by the environment variable named in its help, or in the JSON file of --config (docs/OPERATIONS.md); the defaults shown are the built-in ones. SIGTERM or SIGINT drains, fsyncs, commits and exits 0."
    )

    @Option(help: "Kafka bootstrap servers (env KAFKA_BROKERS; default 127.0.0.1:9092).") var brokers: String?
    @Option(help: "Topic to consume (env KAFKA_TOPIC; default transactions).") var topic: String?
    @Option(name: .customLong("dlq-topic"), help: "Dead-letter topic (env KAFKA_DLQ_TOPIC; default transactions.dlq).")
    var deadLetterTopic: String?
    @Option(help: "Consumer group (env KAFKA_GROUP; default ledger-ingest).") var group: String?
    @Option(name: .customLong("wal"), help: "Ledger directory (env LEDGER_WAL_DIR; default ./ledger).")
    var ledgerDirectory: String?
    @Option(help: "Port of /metrics and /healthz, 0 to disable (env METRICS_PORT; default 9464).") var metricsPort: Int?
    @Option(
        name: .customShort("X"),
        help: ArgumentHelp(
            "A librdkafka property, e.g. -X security.protocol=SASL_SSL (repeatable; env KAFKA_PROPERTIES, comma-separated; these win over the file's).",
            valueName: "key=value"))
    var clientProperties: [String] = []
    @Option(
        name: [.customShort("F"), .customLong("kafka-properties-file")],
        help: ArgumentHelp(
            "A librdkafka properties file, one key=value per line, as kcat -F reads it (env KAFKA_PROPERTIES_FILE).",
            valueName: "FILE"))
    var kafkaPropertiesFile: String?
    @Option(help: ArgumentHelp("A JSON configuration file (env PULSE_CONFIG): docs/OPERATIONS.md.", valueName: "FILE"))
    var config: String?
    @Flag(
        help:
            "If offsets were deleted by retention before they were ingested, record the gap in the ledger and continue from the earliest available offset (default: stop)."
    )
    var allowGaps = false
    @Option(
        help: ArgumentHelp(
            "A message member outside the schema: reject the message as unknown_field, ignore the member, or keep it in the ledger and the warehouse's extra_members (env LEDGER_UNKNOWN_FIELDS; default reject).",
            valueName: "reject|ignore|keep"))
    var unknownFields: UnknownFieldPolicy?
    @Option(
        help: ArgumentHelp(
            "Ship sealed segments to this archive while running, verified after upload (env LEDGER_ARCHIVE_URL; file:///path or s3://bucket/prefix with the AWS variables, as ledger-tool archive).",
            valueName: "URL"))
    var archiveTo: String?
    @OptionGroup var logging: LoggingOptions
    @Option(help: .hidden) var injectFault: String?
    /// Tests only: seal segments at this many bytes instead of 64 MiB.
    @Option(help: .hidden) var segmentBytes: Int?
    /// Tests only: archive runs this often instead of every 30 s.
    @Option(help: .hidden) var archiveIntervalSeconds: Int?
    @Option(
        help: ArgumentHelp(
            "With --archive-to: ship the open segment's durable bytes this often, so that at most about this long of acknowledged data lives only on the local disk; 0: only sealed segments (env LEDGER_ARCHIVE_TAIL_SECONDS; default 60).",
            valueName: "SECONDS"))
    var archiveTailSeconds: Int?

    static func main() async { await mainReadingSettings() }

    private var settings: Settings { Settings.current }
    var resolvedBrokers: String { brokers ?? settings.string("KAFKA_BROKERS") ?? "127.0.0.1:9092" }
    var resolvedLedgerDirectory: String { ledgerDirectory ?? settings.string("LEDGER_WAL_DIR") ?? "./ledger" }

    func resolvedMetricsPort() throws -> Int { try metricsPort ?? settings.int("METRICS_PORT") ?? 9464 }

    func resolvedArchive() throws -> (any ArchiveTarget)? {
        guard let url = archiveTo ?? settings.string("LEDGER_ARCHIVE_URL") else { return nil }
        do {
            return try LedgerArchive.target(url: url, environment: ProcessInfo.processInfo.environment)
        } catch let error as LedgerError {
            throw ValidationError("--archive-to \(url): \(error)")
        }
    }

    func resolvedUnknownFields() throws -> UnknownFieldPolicy {
        if let unknownFields { return unknownFields }
        guard let text = settings.string("LEDGER_UNKNOWN_FIELDS") else { return .reject }
        guard let policy = UnknownFieldPolicy(rawValue: text) else {
            throw ValidationError("LEDGER_UNKNOWN_FIELDS=\(text) is not reject, ignore or keep")
        }
        return policy
    }

    func validate() throws {
        guard (0...65535).contains(try resolvedMetricsPort()) else {
            throw ValidationError("--metrics-port is 0...65535")
        }
        _ = try properties()
        _ = try resolvedUnknownFields()
        _ = try resolvedArchive()
        _ = try injectFault.map { try FaultPlan(specification: $0) }
    }

    /// The file's properties, then KAFKA_PROPERTIES', then -X's: the most specific wins.
    func properties() throws -> [String: String] {
        try KafkaProperties.layered(file: kafkaPropertiesFile, arguments: clientProperties)
    }

    func run() async throws {
        let brokers = resolvedBrokers
        let topic = topic ?? settings.string("KAFKA_TOPIC") ?? "transactions"
        let group = group ?? settings.string("KAFKA_GROUP") ?? "ledger-ingest"
        let ledgerDirectory = resolvedLedgerDirectory
        var configuration = IngestConfiguration(
            brokers: brokers, topic: topic,
            deadLetterTopic: deadLetterTopic ?? settings.string("KAFKA_DLQ_TOPIC") ?? "transactions.dlq", group: group,
            ledgerDirectory: ledgerDirectory,
            clientProperties: try properties(), allowGaps: allowGaps, unknownFields: try resolvedUnknownFields(),
            fileSystem: try injectFault.map { FaultInjectingFileSystem(plan: try FaultPlan(specification: $0)) }
                ?? PosixFileSystem())
        configuration.archive = try resolvedArchive()
        configuration.segmentBytesTarget = segmentBytes ?? Limits.segmentBytesTarget
        configuration.archiveIntervalSeconds = archiveIntervalSeconds ?? IngestLimits.archiveIntervalSeconds
        configuration.archiveTailSeconds =
            try archiveTailSeconds ?? settings.int("LEDGER_ARCHIVE_TAIL_SECONDS")
            ?? IngestLimits.archiveTailSecondsDefault
        guard configuration.archiveTailSeconds >= 0 else {
            throw ValidationError("--archive-tail-seconds is 0 or more")
        }
        try await ServiceProcess.main(
            "ledger-ingest", event: "ingest", logging: logging, metricsPort: try resolvedMetricsPort(),
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

extension UnknownFieldPolicy: ExpressibleByArgument {}
