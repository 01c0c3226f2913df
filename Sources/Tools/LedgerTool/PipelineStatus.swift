import Foundation
import KafkaClient
import Ledger
import Logging
import MessageSchema
import Projector

/// Where the pipeline stands, as `ledger-tool status` prints it (schema `pulse-ledger.status.v1`, docs/CLI.md):
/// per ledger its durable LSN, dead letters, disk, the warehouse checkpoint; per partition Kafka's high watermark,
/// the ledger's next offset, the lag between them in messages and seconds, and the ingest rate.
struct PipelineStatus: Codable, Equatable {
    var schema = "pulse-ledger.status.v1"
    /// When the second sample was taken (RFC 3339, UTC).
    var time: String
    /// Seconds between the two samples the rates come from (0: no rates).
    var rateSeconds: Double
    var kafka: KafkaSide?
    var ledgers: [LedgerSide]
    /// Kafka partitions of the topic that no ledger has recorded anything of yet.
    var unrecordedPartitions: [PartitionSide]
    /// What could not be read (Kafka or PostgreSQL unreachable): the rest is still shown.
    var problems: [String]

    struct KafkaSide: Codable, Equatable {
        var brokers: String
        var topic: String
        var partitions: Int
        /// Sum of the partitions' high watermarks (the offsets the next messages get).
        var highWatermarkTotal: Int64
    }

    struct LedgerSide: Codable, Equatable {
        var directory: String
        var ledgerId: String
        var durableLsn: UInt64
        var recordsPerSecond: Double?
        /// Rejected and conflicting messages: each one went to the dead-letter topic.
        var deadLetters: Int
        var diskUsedBytes: Int64
        var diskFreeBytes: Int64?
        var warehouse: WarehouseSide?
        var partitions: [PartitionSide]
    }

    struct WarehouseSide: Codable, Equatable {
        var checkpointLsn: UInt64
        var lagRecords: UInt64
        /// Age of the oldest record not yet in the warehouse (0 when none waits).
        var lagSeconds: Double
        var recordsPerSecond: Double?
        /// True when the checkpoint is past the ledger's durable LSN (the ledger was restored or replaced: the
        /// projector refuses it until the warehouse is rebuilt from it); absent otherwise.
        var checkpointPastLedger: Bool?
    }

    struct PartitionSide: Codable, Equatable {
        var topic: String
        var partition: Int32
        var kafkaHighWatermark: Int64?
        /// The offset the ledger needs next (its watermark + 1); nil when it holds nothing of the partition.
        var ledgerNextOffset: Int64?
        var lagMessages: Int64?
        /// The lag at the partition's current ingest rate; nil when nothing moved during the sample.
        var lagSeconds: Double?
        var messagesPerSecond: Double?
    }
}

/// The raw figures at one instant, from which two samples make a `PipelineStatus`.
struct StatusSample {
    struct Ledger {
        var directory: String
        var stats: LedgerMaintenance.Stats
        var diskFreeBytes: Int64?
        var checkpointLSN: UInt64?
        /// Ingest time of the first record past the checkpoint, microseconds since the epoch.
        var oldestUnprojectedMicroseconds: Int64?
    }

    var taken: Date
    var ledgers: [Ledger]
    /// Kafka's high watermark per partition of the topic (empty when Kafka was not asked or did not answer).
    var highWatermarks: [TopicPartition: Int64]
    var problems: [String]
}

extension PipelineStatus {
    /// The status at `current`, with rates over the time since `previous` (nil: no rates).
    init(_ current: StatusSample, previous: StatusSample?, kafka: KafkaSide?) {
        let seconds = previous.map { current.taken.timeIntervalSince($0.taken) } ?? 0
        time = RFC3339.format(microsecondsSinceEpoch: Int64(current.taken.timeIntervalSince1970 * 1_000_000))
        rateSeconds = seconds
        self.kafka = kafka
        problems = current.problems
        ledgers = current.ledgers.map { ledger in
            let before = previous?.ledgers.first { $0.stats.ledgerID == ledger.stats.ledgerID }
            return LedgerSide(ledger, before: before, seconds: seconds, highWatermarks: current.highWatermarks)
        }
        let recorded = Set(current.ledgers.flatMap { $0.stats.watermarks.keys })
        unrecordedPartitions = current.highWatermarks.keys.filter { !recorded.contains($0) }.sorted().map {
            PartitionSide(
                topic: $0.topic, partition: $0.partition, kafkaHighWatermark: current.highWatermarks[$0],
                ledgerNextOffset: nil, lagMessages: current.highWatermarks[$0], lagSeconds: nil, messagesPerSecond: nil)
        }
    }
}

extension PipelineStatus.LedgerSide {
    init(
        _ ledger: StatusSample.Ledger, before: StatusSample.Ledger?, seconds: Double,
        highWatermarks: [TopicPartition: Int64]
    ) {
        let stats = ledger.stats
        directory = ledger.directory
        ledgerId = stats.ledgerID.text
        durableLsn = stats.durableLSN
        recordsPerSecond = rate(before.map { Double(stats.durableLSN) - Double($0.stats.durableLSN) }, seconds)
        deadLetters = stats.counts.filter { $0.kind == .rejected || $0.kind == .conflict }.reduce(0) { $0 + $1.count }
        diskUsedBytes = stats.segmentBytes - stats.evictedBytes + stats.indexBytes
        diskFreeBytes = ledger.diskFreeBytes
        warehouse = ledger.checkpointLSN.map { checkpoint in
            let waiting = ledger.oldestUnprojectedMicroseconds.map { Date().timeIntervalSince1970 - Double($0) / 1e6 }
            return PipelineStatus.WarehouseSide(
                checkpointLsn: checkpoint, lagRecords: stats.durableLSN - min(checkpoint, stats.durableLSN),
                lagSeconds: max(0, waiting ?? 0),
                recordsPerSecond: rate(before?.checkpointLSN.map { Double(checkpoint) - Double($0) }, seconds),
                checkpointPastLedger: checkpoint > stats.durableLSN ? true : nil)
        }
        partitions = stats.watermarks.keys.sorted().map { key in
            let next = stats.watermarks[key]!.offset + 1
            let high = highWatermarks[key]
            let moved = before?.stats.watermarks[key].map { Double(next - 1 - $0.offset) }
            let perSecond = rate(moved, seconds)
            let lag = high.map { max(0, $0 - next) }
            return PipelineStatus.PartitionSide(
                topic: key.topic, partition: key.partition, kafkaHighWatermark: high, ledgerNextOffset: next,
                lagMessages: lag,
                lagSeconds: lag.flatMap { lag in lag == 0 ? 0 : perSecond.flatMap { $0 > 0 ? Double(lag) / $0 : nil } },
                messagesPerSecond: perSecond)
        }
    }
}

/// `delta / seconds`, or nil without two samples.
private func rate(_ delta: Double?, _ seconds: Double) -> Double? {
    guard let delta, seconds > 0 else { return nil }
    return max(0, delta) / seconds
}
