import ArgumentParser
import Foundation
import KafkaClient
import Ledger
import Logging
import MessageSchema
import Projector
import ServiceKit

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract:
            "Where the pipeline stands: Kafka, each ledger and the warehouse, per partition, with lags and rates.",
        discussion: """
            Per ledger: durable LSN, records per second, dead letters, disk used and free, and the warehouse's \
            checkpoint with its lag in records and seconds (the age of the oldest record not yet projected). Per \
            partition: Kafka's high watermark, the ledger's next offset, the lag in messages and in seconds at the \
            current ingest rate, and that rate. Rates come from two samples --sample-seconds apart (--watch: from one \
            refresh to the next). Kafka and the warehouse are optional: --no-kafka skips Kafka, the warehouse is \
            read only with --postgres (or DATABASE_URL). Reads only, takes no lock: runs beside the services. \
            --watch redraws in place on a terminal and prints one block (one JSON line with -o json) per refresh \
            otherwise. Exits 2 when Kafka or PostgreSQL did not answer (the rest is still printed).
            """)

    @Option(
        name: .customLong("wal"),
        help: ArgumentHelp("A ledger directory (repeatable; default $LEDGER_WAL_DIR, then ./ledger).", valueName: "DIR")
    )
    var directories: [String] = []
    @OptionGroup var kafka: KafkaClientOptions
    @Option(help: "Topic.") var topic = "transactions"
    @Flag(help: "Do not ask Kafka (no high watermarks, no ingest lag).") var noKafka = false
    @Option(
        name: .customLong("postgres"),
        help: ArgumentHelp("The warehouse, for its checkpoints (env DATABASE_URL).", valueName: "URL"))
    var postgres: String?
    @Option(name: .customLong("schema"), help: "The warehouse schema (env WAREHOUSE_SCHEMA; default warehouse).")
    var schemaOption: String?
    var schema: String { schemaOption ?? Settings.current.string("WAREHOUSE_SCHEMA") ?? WarehouseSchema.defaultName }
    @Option(help: "Seconds between the two samples that rates come from (0: no rates).") var sampleSeconds = 1.0
    @Flag(help: "Refresh until interrupted.") var watch = false
    @Option(help: "Seconds between refreshes with --watch.") var interval = 2.0
    @OptionGroup var output: OutputFormatOptions

    func validate() throws {
        guard sampleSeconds >= 0, sampleSeconds <= 60 else { throw ValidationError("--sample-seconds is 0...60") }
        guard interval >= 0.1 else { throw ValidationError("--interval is at least 0.1 seconds") }
        _ = try WarehouseSchema(schema)
    }

    func run() throws {
        let sampler = try StatusSampler(
            directories: directories.isEmpty ? [LedgerDirectoryOptions.defaultLedgerDirectory] : directories,
            kafka: noKafka ? nil : try kafkaProperties(), topic: topic, postgresURL: postgresURL,
            schema: try WarehouseSchema(schema))
        let view = StatusView(format: output.format, redrawsInPlace: isatty(STDOUT_FILENO) == 1)
        if watch { Self.endOnInterrupt() }
        var previous = watch || sampleSeconds == 0 ? nil : sampler.sample()
        if previous != nil { Thread.sleep(forTimeInterval: sampleSeconds) }
        while true {
            let current = sampler.sample()
            view.show(PipelineStatus(current, previous: previous, kafka: sampler.kafkaSide(current)))
            guard watch else {
                if !current.problems.isEmpty { throw ExitStatus.couldNotRun }
                return
            }
            previous = current
            Thread.sleep(forTimeInterval: interval)
        }
    }

    /// --watch runs until a signal ends it: it must not inherit a signal mask or ignored signals that make it
    /// outlive its terminal or supervisor (a process started by Foundation's `Process` blocks nearly every signal).
    private static func endOnInterrupt() {
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            sigaddset(&signals, signal)
            Glibc.signal(signal, SIG_DFL)
        }
        sigprocmask(SIG_UNBLOCK, &signals, nil)
    }

    /// `--postgres`, else DATABASE_URL; read here rather than as a default value, which --help would print.
    private var postgresURL: String? {
        let url = postgres ?? Settings.current.string("DATABASE_URL")
        return url?.isEmpty == false ? url : nil
    }

    private func kafkaProperties() throws -> [String: String] {
        try kafka.properties(["group.id": "ledger-tool-status", "client.id": "ledger-tool-status"])
    }
}

/// Takes `StatusSample`s: reads each ledger's index, asks Kafka for the topic's high watermarks and the warehouse
/// for its checkpoints, over connections kept open between refreshes.
final class StatusSampler {
    /// How long Kafka may take to answer one question: status must not hang on a cluster that is down.
    static let kafkaAnswerMilliseconds = 5_000

    private let directories: [String]
    private let topic: String
    private let brokers: String?
    private let consumer: KafkaConsumer?
    private let probe: CheckpointProbe?
    private var setupProblems: [String] = []

    init(directories: [String], kafka: [String: String]?, topic: String, postgresURL: String?, schema: WarehouseSchema)
        throws
    {
        self.directories = directories
        self.topic = topic
        brokers = kafka?["bootstrap.servers"]
        let quiet = Logger(label: "ledger-tool", factory: { _ in SwiftLogNoOpLogHandler() })
        consumer = try kafka.map {
            try KafkaConsumer(
                properties: $0, logger: quiet, handlers: RebalanceHandlers(assigned: { _ in [:] }, revoking: { _ in }))
        }
        do {
            probe = try postgresURL.map {
                try CheckpointProbe(postgresURL: $0, schema: schema, applicationName: "ledger-tool status")
            }
        } catch {
            probe = nil
            setupProblems.append("warehouse: \(error)")
        }
    }

    func sample() -> StatusSample {
        var problems = setupProblems
        let ledgers = directories.compactMap { directory -> StatusSample.Ledger? in
            do {
                return try ledger(directory)
            } catch {
                problems.append("ledger \(directory): \(error)")
                return nil
            }
        }
        var highWatermarks: [TopicPartition: Int64] = [:]
        if let consumer {
            do {
                highWatermarks = try Self.highWatermarks(consumer, topic)
            } catch {
                problems.append("kafka \(brokers ?? ""): \(error)")
            }
        }
        return StatusSample(taken: Date(), ledgers: ledgers, highWatermarks: highWatermarks, problems: problems)
    }

    func kafkaSide(_ sample: StatusSample) -> PipelineStatus.KafkaSide? {
        guard let brokers, !sample.highWatermarks.isEmpty else { return nil }
        return PipelineStatus.KafkaSide(
            brokers: brokers, topic: topic, partitions: sample.highWatermarks.count,
            highWatermarkTotal: sample.highWatermarks.values.reduce(0, +))
    }

    private func ledger(_ directory: String) throws -> StatusSample.Ledger {
        let stats = try LedgerMaintenance.stats(directory: directory)
        var ledger = StatusSample.Ledger(
            directory: directory, stats: stats, diskFreeBytes: FileSystemSpace(of: directory)?.freeBytes)
        if let probe {
            let checkpoint = try probe.projectedLSN(of: stats.ledgerID)
            ledger.checkpointLSN = checkpoint
            if checkpoint < stats.durableLSN {
                let reader = try LedgerReader(directory: directory)
                ledger.oldestUnprojectedMicroseconds = try reader.record(at: checkpoint + 1).ingestTimeMicroseconds
            }
        }
        return ledger
    }

    private static func highWatermarks(_ consumer: KafkaConsumer, _ topic: String) throws -> [TopicPartition: Int64] {
        let count = try consumer.partitionCount(topic, timeoutMilliseconds: kafkaAnswerMilliseconds)
        var marks: [TopicPartition: Int64] = [:]
        for partition in 0..<count {
            let key = TopicPartition(topic: topic, partition: Int32(partition))
            marks[key] = try consumer.queryWatermarks(key, timeoutMilliseconds: kafkaAnswerMilliseconds).high
        }
        return marks
    }
}
