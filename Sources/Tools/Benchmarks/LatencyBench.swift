import ArgumentParser
import Foundation
import Ingest
import Ledger
import Logging
import Projector

/// Produce-to-durable and, with `--warehouse`, produce-to-warehouse latency: produces at a fixed rate while a
/// running ledger-ingest writes the ledger (and a running ledger-projector loads it), and a poller compares each
/// record's Kafka timestamp (set when the producer queued it) with the first poll that saw it durable in the
/// ledger, and the first poll that saw the projector's checkpoint (committed with the rows) cover it.
struct LatencyBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "latency", abstract: "Produce-to-durable (and produce-to-warehouse) latency p50/p99 at a fixed rate.")

    @Option(help: "Bootstrap servers of the broker ledger-ingest consumes from.") var brokers: String
    @Option(name: .customLong("wal"), help: "The ledger directory ledger-ingest writes.") var directory: String
    @Option(help: "Messages per second.") var rate: Double = 20_000
    @Option(help: "Seconds to produce.") var seconds: Double = 20
    @Option(help: "PostgreSQL URL of the warehouse ledger-projector loads: also measure produce → warehouse row.") var warehouse: String?
    @Option(help: "Warehouse schema.") var schema: String = WarehouseSchema.defaultName

    /// Milliseconds between polls: the resolution of every figure.
    static let pollIntervalMilliseconds = 1.0
    /// Longest the pipeline may lag behind the producer before the run is declared failed, in seconds.
    static let catchUpSecondsMax = 60.0

    func run() throws {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let producer = try KafkaProducer(properties: ["bootstrap.servers": brokers, "acks": "all", "linger.ms": "1"], logger: logger)
        let reader = try LedgerReader(directory: directory)
        let probe = try warehouse.map { try CheckpointProbe(postgresURL: $0, schema: WarehouseSchema(schema), applicationName: "ledger-bench latency") }
        var generator = MessageGenerator(seed: 99)
        let start = try warmUp(producer, reader: reader, probe: probe, generator: &generator)
        let total = Int(rate * seconds)
        var durable = LatencySeries(cursor: reader.cursor(from: start), expected: total)
        var projected = probe.map { _ in LatencySeries(cursor: reader.cursor(from: start), expected: total) }
        let started = Date()
        var produced = 0
        while !durable.isComplete || !(projected?.isComplete ?? true) {
            while produced < total && Double(produced) < Date().timeIntervalSince(started) * rate {
                try producer.produce(topic: "transactions", key: nil, value: generator.valid())
                produced += 1
            }
            producer.poll()
            try durable.collect(through: try reader.durableLSN())
            if let probe { try projected?.collect(through: try probe.projectedLSN(of: reader.ledgerID)) }
            if Date().timeIntervalSince(started) > seconds + Self.catchUpSecondsMax {
                throw ValidationError("the pipeline did not keep up: \(durable.count) of \(total) durable, \(projected?.count ?? 0) projected")
            }
            Thread.sleep(forTimeInterval: Self.pollIntervalMilliseconds / 1000)
        }
        print(durable.row("produce → durable in the ledger", rate: rate, goal: "goal p99 ≤ 100 ms"))
        if let projected { print(projected.row("produce → row in the warehouse", rate: rate, goal: "goal p99 ≤ 250 ms")) }
    }

    /// The producer's first messages wait for metadata and its idempotence handshake; they are left out.
    /// Returns the first LSN to measure.
    private func warmUp(_ producer: KafkaProducer, reader: LedgerReader, probe: CheckpointProbe?, generator: inout MessageGenerator) throws -> UInt64 {
        let target = try reader.durableLSN() + 100
        for _ in 0..<100 { try producer.produce(topic: "transactions", key: nil, value: generator.valid()) }
        try producer.flush(timeoutMilliseconds: 30_000)
        while try reader.durableLSN() < target { Thread.sleep(forTimeInterval: 0.01) }
        while let probe, try probe.projectedLSN(of: reader.ledgerID) < target { Thread.sleep(forTimeInterval: 0.01) }
        return try reader.durableLSN() + 1
    }
}

/// The latencies of records as a poller sees them reach a stage (durable, projected), in milliseconds.
private struct LatencySeries {
    let cursor: LedgerCursor
    let expected: Int
    private var latencies: [Int64] = []

    init(cursor: LedgerCursor, expected: Int) {
        self.cursor = cursor
        self.expected = expected
        latencies.reserveCapacity(expected)
    }

    var count: Int { latencies.count }
    var isComplete: Bool { latencies.count >= expected }

    /// Every record up to `lsn` not seen before reached the stage now.
    mutating func collect(through lsn: UInt64) throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        while !isComplete {
            let entries = try cursor.next(maxRecords: 100_000, through: lsn)
            if entries.isEmpty { return }
            for entry in entries { if let sent = entry.record.source.kafkaTimestampMilliseconds { latencies.append(now - sent) } }
        }
    }

    func row(_ stage: String, rate: Double, goal: String) -> String {
        let sorted = latencies.sorted()
        func percentile(_ fraction: Double) -> Int64 { sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))] }
        return "| \(stage) at \(grouped(rate)) msgs/s (\(grouped(Double(sorted.count))) messages) | p50 \(percentile(0.5)) ms | p99 \(percentile(0.99)) ms | max \(sorted.last!) ms | \(goal) |"
    }
}
