import Foundation
import Ingest
import KafkaClient
import Ledger
import LedgerTesting
import Logging
import MessageSchema
import Testing

/// The directory holding the built products (ledger-tool, ledger-ingest).
let productsDirectory = (((try? BuiltProducts.path(of: "ledger-ingest")) ?? "") as NSString).deletingLastPathComponent

let quietLogger = Logger(label: "tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// One `ledger-ingest` process, its standard error appended to `logPath`.
func startIngest(
    brokers: String, ledger: String, group: String = "ledger-ingest", metricsPort: Int = 0, extra: [String] = [],
    logPath: String, environment: [String: String]? = nil
) throws -> ChildProcess {
    try ChildProcess(
        product: "ledger-ingest",
        ["--brokers", brokers, "--wal", ledger, "--group", group, "--metrics-port", "\(metricsPort)"] + extra,
        logPath: logPath, environment: environment)
}

/// What the test produced, to compare with what the ledger recorded.
struct ProducedStream {
    var count = 0
    var intents: [MessageGenerator.Intent] = []
}

/// Produces `count` generated messages (acknowledged) and returns what was meant.
/// Messages go round-robin over `partitions`, so that no partition outgrows the development broker's ~5 MiB
/// (it drops the oldest data of a full partition) and none stays empty.
func produce(
    _ brokers: String, count: Int, seed: UInt64, invalidRatio: Double = 0.02, duplicateRatio: Double = 0.01,
    topic: String = "transactions",
    partitions: Int? = nil
) throws -> ProducedStream {
    let producer = try KafkaProducer(
        properties: ["bootstrap.servers": brokers, "acks": "all", "linger.ms": "5"], logger: quietLogger)
    let partitionCount =
        try partitions ?? observer(brokers, group: "counter-\(UUID().uuidString)").partitionCount(topic)
    var generator = MessageGenerator(seed: seed, invalidRatio: invalidRatio, duplicateRatio: duplicateRatio)
    var stream = ProducedStream()
    for _ in 0..<count {
        let (value, intent) = generator.next()
        try producer.produce(topic: topic, partition: Int32(stream.count % partitionCount), key: nil, value: value)
        stream.intents.append(intent)
        stream.count += 1
    }
    try producer.flush(timeoutMilliseconds: 60_000)
    return stream
}

/// A consumer in its own group that only observes (watermarks, committed offsets of another group).
func observer(_ brokers: String, group: String) throws -> KafkaConsumer {
    try KafkaConsumer(
        properties: ["bootstrap.servers": brokers, "group.id": group], logger: quietLogger,
        handlers: RebalanceHandlers(assigned: { _ in [:] }, revoking: { _ in }))
}

/// The end offset of every partition of `topic`.
func endOffsets(_ brokers: String, partitions: Int, topic: String = "transactions") throws -> [TopicPartition: Int64] {
    let consumer = try observer(brokers, group: "observer-\(UUID().uuidString)")
    var result: [TopicPartition: Int64] = [:]
    for partition in 0..<partitions {
        let key = TopicPartition(topic: topic, partition: Int32(partition))
        result[key] = try consumer.queryWatermarks(key).high
    }
    return result
}

/// Waits until the ledger's watermarks reach `ends` (every offset below the end recorded).
func waitUntilCaughtUp(_ directories: [String], ends: [TopicPartition: Int64], timeoutSeconds: Double) throws {
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while Date() < deadline {
        var reached: [TopicPartition: Int64] = [:]
        for directory in directories {
            // A ledger ingest has not created yet, or is creating (`notCreated`), has reached nothing.
            let reader: LedgerReader
            do {
                reader = try LedgerReader(directory: directory)
            } catch let error as LedgerError where error.code == .notCreated {
                continue
            }
            for (partition, mark) in try reader.watermarks() {
                reached[partition] = max(reached[partition] ?? -1, mark.offset + 1)
            }
        }
        if ends.allSatisfy({ $0.value == 0 || reached[$0.key] == $0.value }) { return }
        Thread.sleep(forTimeInterval: 0.2)
    }
    throw TestFailure("ledger did not catch up with \(ends) within \(timeoutSeconds)s")
}

/// Every message on the dead-letter topic: (source partition, source offset) → headers.
func deadLetters(_ brokers: String, expectedAtLeast: Int) throws -> [String: [String: String]] {
    let consumer = try KafkaConsumer(
        properties: [
            "bootstrap.servers": brokers, "group.id": "dlq-reader-\(UUID().uuidString)",
            "auto.offset.reset": "earliest",
        ],
        logger: quietLogger, handlers: RebalanceHandlers(assigned: { _ in [:] }, revoking: { _ in }))
    try consumer.subscribe(["transactions.dlq"])
    var found: [String: [String: String]] = [:]
    var idleSince = Date()
    while Date().timeIntervalSince(idleSince) < (found.count >= expectedAtLeast ? 2 : 15) {
        let count = try consumer.consumeBatch(maxMessages: 1000, timeoutMilliseconds: 200, includeHeaders: true) {
            message in
            guard message.error == nil else { return }
            var headers: [String: String] = [:]
            for header in message.headers { headers[header.name] = String(decoding: header.value ?? [], as: UTF8.self) }
            found["\(headers["source.partition"] ?? "?")@\(headers["source.offset"] ?? "?")"] = headers
        }
        if count > 0 { idleSince = Date() }
    }
    return found
}

/// Asserts that each (partition, offset) below the end offsets is in the ledger(s) exactly once.
func expectEachOffsetOnce(
    _ entries: [LedgerEntry], ends: [TopicPartition: Int64], sourceLocation: SourceLocation = #_sourceLocation
) {
    var seen: [TopicPartition: [Int64: Int]] = [:]
    for entry in entries {
        seen[TopicPartition(topic: entry.record.source.topic, partition: entry.record.source.partition), default: [:]][
            entry.record.source.offset, default: 0] += 1
    }
    var missing = 0
    var doubled = 0
    for (partition, end) in ends {
        for offset in 0..<end {
            switch seen[partition]?[offset] ?? 0 {
            case 0: missing += 1
            case 1: break
            default: doubled += 1
            }
        }
    }
    #expect(missing == 0, "offsets missing from the ledger", sourceLocation: sourceLocation)
    #expect(doubled == 0, "offsets recorded more than once", sourceLocation: sourceLocation)
    #expect(entries.count == ends.values.reduce(0, +), sourceLocation: sourceLocation)
}

/// How many (partition, offset) pairs appear more than once in one ledger's records.
func offsetsRecordedTwice(_ entries: [LedgerEntry]) -> Int {
    var counts: [String: Int] = [:]
    for entry in entries {
        counts[
            "\(entry.record.source.topic)/\(entry.record.source.partition)@\(entry.record.source.offset)", default: 0] +=
            1
    }
    return counts.values.filter { $0 > 1 }.count
}
