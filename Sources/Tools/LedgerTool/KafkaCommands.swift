import ArgumentParser
import DevelopmentBroker
import Foundation
import Ingest
import KafkaClient
import Ledger
import LedgerTesting
import Logging
import Projector
import ServiceKit

struct DevBrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-broker",
        abstract:
            "Run a Kafka-protocol development broker on 127.0.0.1 (librdkafka's mock cluster). NOT for production: it keeps data in memory only.",
        discussion: """
            Creates the topic and its dead-letter topic, prints the bootstrap address as its first line, and runs until \
            SIGTERM/SIGINT. It keeps at most about 5 MiB / 100k message sets per partition and drops older data, so size \
            loads to it or use more partitions. Standard input takes fault-injection commands, one per line, each \
            answered "ok" or "error: …":
              down BROKER | up BROKER                 take a broker (1-based id) down or back up
              errors API_KEY ERROR_NAME COUNT         fail the next COUNT requests of an API (e.g. errors 1 NOT_LEADER_FOR_PARTITION 5; 1 = Fetch, 8 = OffsetCommit)
              rtt BROKER MILLISECONDS                 add round-trip time to a broker
              leader TOPIC PARTITION BROKER           move a partition's leadership to a broker
              clear API_KEY                           drop queued request errors
            """)

    @Option(
        help:
            "Fixed bootstrap port on 127.0.0.1, relayed to the first broker (default: the port the mock cluster picks)."
    ) var port: UInt16?
    @Option(help: "Partitions of the topic.") var partitions = 6
    @Option(help: "Number of brokers in the cluster.") var brokers = 1
    @Option(help: "Topic to create.") var topic = "transactions"
    @Option(help: "Dead-letter topic to create.") var dlqTopic = "transactions.dlq"
    @OptionGroup var output: OutputFormatOptions

    /// The first line of `dev-broker -o json`.
    struct Started: Encodable {
        var schema = "pulse-ledger.dev-broker.v1"
        var bootstrap: String
        var brokers: Int
        var topics: [String]
        var partitions: Int
    }

    func validate() throws {
        guard (1...1000).contains(partitions) else { throw ValidationError("--partitions is 1...1000") }
        guard (1...9).contains(brokers) else { throw ValidationError("--brokers is 1...9") }
    }

    func run() throws {
        let logger = Logger(label: "dev-broker", factory: { StreamLogHandler.standardError(label: $0) })
        let cluster = try MockCluster(brokers: brokers, logger: logger)
        try cluster.createTopic(topic, partitions: partitions)
        try cluster.createTopic(dlqTopic, partitions: partitions)
        var bootstrap = cluster.bootstrapServers
        if let port {
            // A client that goes away mid-write must not kill the broker.
            signal(SIGPIPE, SIG_IGN)
            let forwarder = try BootstrapForwarder(port: port, target: String(bootstrap.split(separator: ",")[0]))
            forwarder.start()
            bootstrap = "127.0.0.1:\(port)"
        }
        if output.isJSON {
            try printJSONLine(
                Started(bootstrap: bootstrap, brokers: brokers, topics: [topic, dlqTopic], partitions: partitions))
        } else {
            print(bootstrap)
        }
        fflush(nil)
        printError(
            "dev-broker: \(brokers) broker(s) at \(cluster.bootstrapServers), bootstrap \(bootstrap); topics \(topic) and \(dlqTopic) with \(partitions) partitions; in memory only, not for production"
        )
        let signals = Self.waitForSignals()
        let commands = Thread { Self.serveCommands(cluster) }
        commands.start()
        signals.wait()
        // Everything lives in memory: exit at once. Destroying the cluster waits for client connections to
        // wind down, which a signalled shutdown should not.
        printError("dev-broker: stopping")
        withExtendedLifetime(cluster) { Glibc.exit(0) }
    }

    /// Blocks SIGTERM/SIGINT and returns a semaphore signalled when one arrives.
    private static func waitForSignals() -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { done.signal() }
            source.resume()
            signalSources.append(source)
        }
        return done
    }

    nonisolated(unsafe) private static var signalSources: [any DispatchSourceSignal] = []

    private static func serveCommands(_ cluster: MockCluster) {
        while let line = readLine() {
            let words = line.split(separator: " ").map(String.init)
            guard !words.isEmpty else { continue }
            do {
                try apply(words, to: cluster)
                print("ok")
            } catch {
                print("error: \(error)")
            }
            fflush(nil)
        }
    }

    private static func apply(_ words: [String], to cluster: MockCluster) throws {
        func number(_ index: Int) throws -> Int {
            guard index < words.count, let value = Int(words[index]) else {
                throw ValidationError("expected a number at word \(index + 1)")
            }
            return value
        }
        switch words[0] {
        case "down": try cluster.setBroker(Int32(try number(1)), up: false)
        case "up": try cluster.setBroker(Int32(try number(1)), up: true)
        case "rtt": try cluster.setBrokerRoundTrip(Int32(try number(1)), milliseconds: try number(2))
        case "clear": cluster.clearRequestErrors(apiKey: Int16(try number(1)))
        case "leader":
            guard words.count == 4 else { throw ValidationError("leader TOPIC PARTITION BROKER") }
            try cluster.setPartitionLeader(
                topic: words[1], partition: Int32(try number(2)), broker: Int32(try number(3)))
        case "errors":
            guard words.count == 4 else { throw ValidationError("errors API_KEY ERROR_NAME COUNT") }
            try cluster.pushRequestErrors(apiKey: Int16(try number(1)), errorName: words[2], count: try number(3))
        default: throw ValidationError("unknown command \(words[0])")
        }
    }
}

struct ProduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Produce the original producer's stream (or the lines of a file) to Kafka.",
        discussion:
            "Random orders across customers and categories, about 5% above the fraud threshold; optionally salted with invalid messages (every rejection reason) and repeated order_ids (a quarter of them conflicting)."
    )

    @OptionGroup var kafka: KafkaClientOptions
    @Option(help: "Topic.") var topic = "transactions"
    @Option(help: "How many messages (ignored with --file).") var count = 1000
    @Option(help: "Messages per second; 0 = as fast as possible.") var rate: Double = 0
    @Option(help: "Fraction of invalid messages (0...1).") var invalidRatio: Double = 0
    @Option(
        help: "Fraction of repeated order_ids (0...1): half recent, half from anywhere earlier; a quarter conflict.")
    var duplicateRatio: Double = 0
    @Option(help: "Seed of the random stream.") var seed: UInt64 = UInt64(Date().timeIntervalSince1970)
    @Option(help: "Produce the lines of this file instead (- for standard input).") var file: String?
    @Flag(help: "Stamp orders with generated times from 2024-01-15 (reproducible) instead of the current time.")
    var fixedClock = false
    @Option(
        help:
            "Message keys: 'sequence' keys each message by its number in the stream, so that the partitioner spreads messages evenly over the partitions (keyless messages once crowded into one partition, whose oldest data the development broker then dropped); 'none' sends keyless messages."
    )
    var keys: MessageKeys = .sequence
    @Option(
        help: ArgumentHelp(
            "Write one JSON line per acknowledged message to FILE: its partition, offset, what the generator meant it to be and its value (an oracle for fault tests).",
            valueName: "FILE"))
    var record: String?
    @OptionGroup var output: OutputFormatOptions

    func validate() throws {
        guard count >= 0, rate >= 0 else { throw ValidationError("--count and --rate are zero or more") }
        guard record == nil || file == nil else {
            throw ValidationError(
                "--record needs the generated stream (not --file): only the generator knows what each message is meant to be"
            )
        }
        guard (0...1).contains(invalidRatio), (0...1).contains(duplicateRatio), invalidRatio + duplicateRatio <= 1
        else {
            throw ValidationError("--invalid-ratio and --duplicate-ratio are fractions whose sum is at most 1")
        }
    }

    func run() throws {
        // Keyless messages (--keys none) go to a random partition each rather than in "sticky" batches.
        let properties = try kafka.properties([
            "acks": "all", "enable.idempotence": "true", "linger.ms": "5", "client.id": "ledger-tool-produce",
            "sticky.partitioning.linger.ms": "0",
        ])
        let producer = try KafkaProducer(
            properties: properties,
            logger: Logger(label: "produce", factory: { StreamLogHandler.standardError(label: $0) }),
            recordsDeliveries: record != nil)
        let recorder = try record.map { try DeliveryRecorder(path: $0) }
        let progress = ProgressReporter(title: "Producing", unit: "messages")
        let started = Date()
        var produced = 0
        try forEachMessage { value, intent in
            let key = keys == .sequence ? Array(String(produced).utf8) : nil
            recorder?.sent(tag: produced, key: key, value: value, intent: intent)
            try producer.produce(topic: topic, key: key, value: value, tag: produced)
            produced += 1
            if produced % 1000 == 0 {
                producer.poll()
                try recorder?.write(producer.takeDeliveries())
                progress.update(
                    done: produced, fraction: file == nil && count > 0 ? Double(produced) / Double(count) : nil)
            }
            if rate > 0 {
                let due = started.addingTimeInterval(Double(produced) / rate)
                let wait = due.timeIntervalSinceNow
                if wait > 0 { Thread.sleep(forTimeInterval: wait) }
            }
        }
        try producer.flush(timeoutMilliseconds: 60_000)
        try recorder?.write(producer.takeDeliveries())
        try recorder?.close()
        progress.finish(succeeded: true)
        let seconds = Date().timeIntervalSince(started)
        if output.isJSON {
            return try printJSONLine(ProduceReport(topic: topic, produced: produced, seconds: seconds))
        }
        print(
            "produced \(grouped(produced)) messages to \(topic) in \(decimal(seconds))s (\(grouped(Int(Double(produced) / max(seconds, 0.001))))/s), all acknowledged"
        )
    }

    /// Each message's value and, for the generated stream, what the generator meant it to be.
    private func forEachMessage(_ body: ([UInt8]?, MessageGenerator.Intent?) throws -> Void) throws {
        if let file {
            let reader = try LineReader(path: file, maximumLineBytes: 16 << 20)
            while let line = try reader.next() { try body(Array(line.bytes), nil) }
            return
        }
        var generator = MessageGenerator(seed: seed, invalidRatio: invalidRatio, duplicateRatio: duplicateRatio)
        for _ in 0..<count {
            // Like the original producer: an order is stamped with the time it is sent (dashboards show "now").
            if !fixedClock { generator.clockMicroseconds = Int64(Date().timeIntervalSince1970 * 1_000_000) }
            let message = generator.next()
            try body(message.value, message.intent)
        }
    }
}

/// How `produce` keys its messages.
enum MessageKeys: String, ExpressibleByArgument, CaseIterable {
    case sequence, none
}

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract:
            "Where an order is: its accepted record's LSN, segment and source coordinates (and every repeat with --all)."
    )

    @Argument(help: "The order_id (UUID).") var orderID: String
    @OptionGroup var ledger: LedgerDirectoryOptions
    @Flag(help: "Also scan the whole ledger for duplicates and conflicts of this order.") var all = false
    @Option(help: "Also show the warehouse row: a PostgreSQL URL (or env DATABASE_URL with --postgres env).")
    var postgres: String?
    @OptionGroup var output: OutputFormatOptions

    func run() throws {
        guard let order = UUID(uuidString: orderID) else { throw ValidationError("not a UUID: \(orderID)") }
        let reader = try LedgerReader(directory: ledger.directory)
        var found: [(RecordDescription, String)] = []
        if let lsn = try reader.acceptedLSN(of: order) {
            found.append((RecordDescription(lsn: lsn, try reader.record(at: lsn)), try location(reader, lsn)))
        }
        if all { found += try scan(reader, order).filter { entry in !found.contains { $0.0.lsn == entry.0.lsn } } }
        guard !found.isEmpty else {
            printError("order \(order.uuidString.lowercased()) is not in the ledger at \(ledger.directory)")
            throw ExitStatus.checkFailed
        }
        for (record, place) in found {
            if output.isJSON {
                try printJSONLine(TracedRecord(record: record, location: place))
            } else {
                print("\(record.summary)\n    in \(place)")
            }
        }
        if let postgres {
            let url = postgres == "env" ? (Settings.current.string("DATABASE_URL") ?? "") : postgres
            if output.isJSON {
                for row in try WarehouseLookup.rows(
                    orderID: order, postgresURL: url, schema: try WarehouseSchema(WarehouseSchema.defaultName))
                {
                    try printJSONLine(TracedWarehouseRow(row))
                }
            } else {
                for line in try warehouseTraceLines(orderID: order, postgresURL: url) { print(line) }
            }
        }
    }

    /// One line of `trace -o json`: a ledger record and where it is.
    struct TracedRecord: Encodable {
        var source = "ledger"
        var record: RecordDescription
        var location: String
    }

    /// One line of `trace -o json --postgres`: a warehouse row, each column as PostgreSQL's text.
    struct TracedWarehouseRow: Encodable {
        var source = "warehouse"
        var table: String
        var columns: [String: String]

        init(_ row: WarehouseLookup.Row) {
            table = row.table
            columns = Dictionary(row.columns.map { ($0.name, $0.value) }) { first, _ in first }
        }
    }

    private func location(_ reader: LedgerReader, _ lsn: UInt64) throws -> String {
        guard let place = try reader.location(of: lsn) else { return "unknown segment" }
        return "\(place.segment), frame at byte \(place.byteOffset)"
    }

    private func scan(_ reader: LedgerReader, _ order: UUID) throws -> [(RecordDescription, String)] {
        let cursor = reader.cursor()
        var matches: [(RecordDescription, String)] = []
        while true {
            let batch = try cursor.next(maxRecords: 8192)
            if batch.isEmpty { return matches }
            for entry in batch where entry.record.transaction?.orderID == order {
                matches.append((RecordDescription(lsn: entry.lsn, entry.record), try location(reader, entry.lsn)))
            }
        }
    }
}
