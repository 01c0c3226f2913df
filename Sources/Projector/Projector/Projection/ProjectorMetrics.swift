import Foundation
import Metrics

/// The projector's metrics (swift-metrics, exported by ServiceKit's `/metrics`). Names match the log metadata
/// keys and the Grafana panels. Per-ledger series carry a `ledger_id` label.
package final class ProjectorMetrics {
    /// The `# HELP` text of each metric ledger-projector exports.
    package static let help = [
        "projector_batches_total": "Batches committed to the warehouse, by path (direct COPY or deduplicating).",
        "projector_rows_deduplicated_total": "Rows another ledger had already projected (deduplicating path).",
        "projector_quarantined_total": "Records set aside as unprojectable (--quarantine).",
        "projector_copy_seconds": "Time of each batch's COPY into the warehouse.",
        "projector_retries_total": "Batches retried after a transient PostgreSQL error.",
        "projector_rows_projected_total": "Transaction rows written, per ledger.",
        "projector_rejected_projected_total": "Rejected-message and conflict rows written, per ledger.",
        "projector_duplicates_skipped_total": "Duplicate records that became no row, per ledger.",
        "projector_checkpoint_lsn": "The warehouse's checkpoint: the last LSN of the ledger it holds.",
        "projector_durable_lsn": "The ledger's durable LSN as the projector last read it.",
        "projector_lag_lsn": "Records of the ledger not yet in the warehouse.",
        "projector_lag_seconds": "Age of the oldest record of the ledger not yet in the warehouse.",
    ]

    private struct PerLedger {
        let rows: Counter
        let rejected: Counter
        let duplicatesSkipped: Counter
        let checkpoint: Gauge
        let durable: Gauge
        let lagLSN: Gauge
        let lagSeconds: Gauge
    }

    private var ledgers: [UUID: PerLedger] = [:]
    private let batchesDirect = Counter(label: "projector_batches_total", dimensions: [("path", "direct")])
    private let batchesDeduplicating = Counter(
        label: "projector_batches_total", dimensions: [("path", "deduplicating")])
    private let deduplicated = Counter(label: "projector_rows_deduplicated_total")
    private let quarantined = Counter(label: "projector_quarantined_total")
    private let copySeconds = Metrics.Timer(label: "projector_copy_seconds")
    private let retries = Counter(label: "projector_retries_total")

    private func series(_ ledgerID: UUID) -> PerLedger {
        if let existing = ledgers[ledgerID] { return existing }
        let dimensions = [("ledger_id", ledgerID.text)]
        let created = PerLedger(
            rows: Counter(label: "projector_rows_projected_total", dimensions: dimensions),
            rejected: Counter(label: "projector_rejected_projected_total", dimensions: dimensions),
            duplicatesSkipped: Counter(label: "projector_duplicates_skipped_total", dimensions: dimensions),
            checkpoint: Gauge(label: "projector_checkpoint_lsn", dimensions: dimensions),
            durable: Gauge(label: "projector_durable_lsn", dimensions: dimensions),
            lagLSN: Gauge(label: "projector_lag_lsn", dimensions: dimensions),
            lagSeconds: Gauge(label: "projector_lag_seconds", dimensions: dimensions))
        ledgers[ledgerID] = created
        return created
    }

    func committed(_ committed: CommittedBatch) {
        let ledger = series(committed.batch.ledgerID)
        let outcome = committed.outcome
        ledger.rows.increment(by: outcome.rowsInserted)
        ledger.rejected.increment(by: outcome.rejectionsInserted)
        ledger.duplicatesSkipped.increment(by: committed.batch.duplicates.count - outcome.duplicatesInConflict)
        (outcome.deduplicated ? batchesDeduplicating : batchesDirect).increment()
        deduplicated.increment(
            by: outcome.skippedOrderIDs.count - outcome.skippedOrdersInConflict + outcome.rejectionsSkipped)
        quarantined.increment(by: outcome.quarantined)
        copySeconds.recordNanoseconds(Int64(outcome.copyNanoseconds))
    }

    /// Where a ledger stands: checkpoint, durable LSN, and how far behind (0 when caught up).
    func position(_ ledgerID: UUID, checkpoint: UInt64, durable: UInt64, lagSeconds: Double) {
        let ledger = series(ledgerID)
        ledger.checkpoint.record(Double(checkpoint))
        ledger.durable.record(Double(durable))
        ledger.lagLSN.record(Double(durable > checkpoint ? durable - checkpoint : 0))
        ledger.lagSeconds.record(lagSeconds)
    }

    func retried() { retries.increment() }
}
