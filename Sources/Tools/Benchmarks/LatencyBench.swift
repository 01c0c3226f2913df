import ArgumentParser
import Foundation
import Ingest
import Ledger
import Logging

/// Produce-to-durable latency: produces at a fixed rate while a running ledger-ingest writes the ledger, and a
/// reader polling the durable LSN every millisecond compares each record's Kafka timestamp (set when the
/// producer queued it) with the moment it became durable.
struct LatencyBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "latency", abstract: "Produce-to-durable latency p50/p99 at a fixed rate.")

    @Option(help: "Bootstrap servers of the broker ledger-ingest consumes from.") var brokers: String
    @Option(name: .customLong("wal"), help: "The ledger directory ledger-ingest writes.") var directory: String
    @Option(help: "Messages per second.") var rate: Double = 20_000
    @Option(help: "Seconds to produce.") var seconds: Double = 20

    func run() throws {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let producer = try KafkaProducer(properties: ["bootstrap.servers": brokers, "acks": "all", "linger.ms": "1"], logger: logger)
        let reader = try LedgerReader(directory: directory)
        var generator = MessageGenerator(seed: 99)
        // Warm-up: the producer's first messages wait for metadata and its idempotence handshake; leave them out.
        let before = try reader.durableLSN()
        for _ in 0..<100 { try producer.produce(topic: "transactions", key: nil, value: generator.valid()) }
        try producer.flush(timeoutMilliseconds: 30_000)
        while try reader.durableLSN() < before + 100 { Thread.sleep(forTimeInterval: 0.01) }
        let cursor = reader.cursor(from: try reader.durableLSN() + 1)
        let total = Int(rate * seconds)
        var latencies: [Int64] = []
        latencies.reserveCapacity(total)
        let started = Date()
        var produced = 0
        while latencies.count < total {
            while produced < total && Double(produced) < Date().timeIntervalSince(started) * rate {
                try producer.produce(topic: "transactions", key: nil, value: generator.valid())
                produced += 1
            }
            producer.poll()
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            for entry in try cursor.next(maxRecords: 100_000) {
                if let sent = entry.record.source.kafkaTimestampMilliseconds { latencies.append(now - sent) }
            }
            if Date().timeIntervalSince(started) > seconds + 60 { throw ValidationError("ledger-ingest did not keep up: \(latencies.count) of \(total) durable") }
            Thread.sleep(forTimeInterval: 0.001)
        }
        latencies.sort()
        func percentile(_ fraction: Double) -> Int64 { latencies[min(latencies.count - 1, Int(Double(latencies.count) * fraction))] }
        print("| produce → durable at \(grouped(rate)) msgs/s (\(grouped(Double(total))) messages) | p50 \(percentile(0.5)) ms | p99 \(percentile(0.99)) ms | max \(latencies.last!) ms | goal p99 ≤ 100 ms |")
    }
}
