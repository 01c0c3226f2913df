import Ledger
import MessageSchema
import Metrics
import OperatingErrors

/// Every metric ledger-ingest exports. Names match the Grafana "Ledger Operations" dashboard and the log keys.
/// Labelled metrics are created once per label value and cached: creating one looks it up in the registry
/// under a lock, which is too slow for once per message.
package final class IngestMetrics {
    /// The `# HELP` text of each metric ledger-ingest exports (`DiskSpace`'s included).
    package static let help = [
        "ingest_messages_consumed_total": "Messages taken from Kafka (every one, whatever the ledger made of it).",
        "ingest_messages_already_recorded_total":
            "Messages skipped because the ledger already holds their offset (a redelivery after a restart).",
        "ingest_batches_total": "Batches made durable (one fsync each).",
        "ingest_fsync_seconds":
            "Time of each batch's commit: the last frame, the dead letters' acknowledgement, segment fsync, and the wait for the previous batch's index publish.",
        "ingest_ledger_bytes_written_total": "Segment bytes written (frames, footers, headers).",
        "ingest_ledger_durable_lsn": "The last LSN that is fsynced (the index publishes it in the background).",
        "ingest_dead_letters_total": "Messages produced to the dead-letter topic (rejected and conflicting).",
        "ingest_offset_out_of_range_total": "Times Kafka no longer held offsets the ledger had not read.",
        "ingest_offset_commit_failures_total": "Kafka offset commits that failed (advisory; retried).",
        "ingest_up": "1 while ledger-ingest consumes, 0 once it stopped.",
        "ingest_records_appended_total": "Ledger records appended, by kind.",
        "ingest_rejected_total": "Messages rejected, by reason code.",
        "ingest_broker_errors_total": "Errors librdkafka reported, by name.",
        "ingest_consumer_lag_messages": "Messages in the partition after what the ledger holds.",
        "ingest_ledger_watermark_offset":
            "Highest offset of the partition whose ledger record is durable and committed.",
        "ingest_ledger_disk_free_bytes": "Bytes an unprivileged writer may still use on the ledger's file system.",
        "ingest_ledger_disk_size_bytes": "Size of the ledger's file system in bytes.",
    ].merging(ArchiveShipper.help) { $1 }

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

    /// What the messages of the batch being handled became, added to the counters once per batch (`addTally`):
    /// two counter increments per message (an atomic each, one behind a dictionary lookup) were 1.7 % of the
    /// ingest thread's perf samples on the mix.
    private var tallyConsumed: Int64 = 0
    private var tallyAlreadyRecorded: Int64 = 0
    private var tallyAppendedByKind = [Int64](repeating: 0, count: Int(RecordKind.allCases.map(\.rawValue).max()!) + 1)

    func tallyConsumedMessage() { tallyConsumed += 1 }
    func tallyAlreadyRecordedMessage() { tallyAlreadyRecorded += 1 }
    func tallyAppended(_ kind: RecordKind) { tallyAppendedByKind[Int(kind.rawValue)] += 1 }

    /// Adds the tally to the counters and starts a new one.
    func addTally() {
        if tallyConsumed > 0 { consumed.increment(by: tallyConsumed) }
        if tallyAlreadyRecorded > 0 { skippedAlreadyRecorded.increment(by: tallyAlreadyRecorded) }
        for kind in RecordKind.allCases where tallyAppendedByKind[Int(kind.rawValue)] > 0 {
            appended(kind).increment(by: tallyAppendedByKind[Int(kind.rawValue)])
            tallyAppendedByKind[Int(kind.rawValue)] = 0
        }
        tallyConsumed = 0
        tallyAlreadyRecorded = 0
    }

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
