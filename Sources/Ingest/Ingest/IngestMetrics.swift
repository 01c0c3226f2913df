import Ledger
import MessageSchema
import Metrics
import OperatingErrors

/// Every metric ledger-ingest exports. Names match the Grafana "Ledger Operations" dashboard and the log keys.
/// Labelled metrics are created once per label value and cached: creating one looks it up in the registry
/// under a lock, which is too slow for once per message.
final class IngestMetrics {
    let consumed = Counter(label: "ingest_messages_consumed_total")
    let skippedAlreadyRecorded = Counter(label: "ingest_messages_already_recorded_total")
    let batches = Counter(label: "ingest_batches_total")
    let fsyncSeconds = Timer(label: "ingest_fsync_seconds")
    let bytesWritten = Counter(label: "ingest_ledger_bytes_written_total")
    let durableLSN = Gauge(label: "ingest_ledger_durable_lsn")
    let deadLetters = Counter(label: "ingest_dead_letters_total")
    let outOfRange = Counter(label: "ingest_offset_out_of_range_total")
    let commitFailures = Counter(label: "ingest_offset_commit_failures_total")
    let up = Gauge(label: "ingest_up")

    private var appendedByKind: [RecordKind: Counter] = [:]
    private var rejectedByReason: [RejectReason: Counter] = [:]
    private var brokerErrorsByName: [String: Counter] = [:]
    private var lagByPartition: [TopicPartition: Gauge] = [:]
    private var watermarkByPartition: [TopicPartition: Gauge] = [:]

    func appended(_ kind: RecordKind) -> Counter {
        cached(&appendedByKind, kind) {
            Counter(label: "ingest_records_appended_total", dimensions: [("kind", kind.description)])
        }
    }

    func rejected(_ reason: RejectReason) -> Counter {
        cached(&rejectedByReason, reason) {
            Counter(label: "ingest_rejected_total", dimensions: [("reason", reason.code)])
        }
    }

    func brokerError(_ name: String) -> Counter {
        cached(&brokerErrorsByName, name) {
            Counter(label: "ingest_broker_errors_total", dimensions: [("error", name)])
        }
    }

    func lag(_ partition: TopicPartition) -> Gauge {
        cached(&lagByPartition, partition) {
            Gauge(
                label: "ingest_consumer_lag_messages",
                dimensions: [("topic", partition.topic), ("partition", "\(partition.partition)")])
        }
    }

    func watermark(_ partition: TopicPartition) -> Gauge {
        cached(&watermarkByPartition, partition) {
            Gauge(
                label: "ingest_ledger_watermark_offset",
                dimensions: [("topic", partition.topic), ("partition", "\(partition.partition)")])
        }
    }

    private func cached<Key: Hashable, Metric>(_ cache: inout [Key: Metric], _ key: Key, _ make: () -> Metric) -> Metric
    {
        if let metric = cache[key] { return metric }
        let metric = make()
        cache[key] = metric
        return metric
    }
}
