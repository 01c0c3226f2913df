import Foundation
import Ledger
import MessageSchema
import OperatingErrors

/// Turns ledger records into warehouse rows, checking each value against what the warehouse can hold.
package struct BatchBuilder {
    let ledgerID: UUID
    /// The tax rate and fraud rule versions; each row gets those in force at its transaction time.
    let rates: RateBook
    /// Whether an unprojectable record is set aside (`--quarantine`) instead of stopping the projector.
    let quarantine: Bool
    /// `Transform.batchID` for the block being built, kept because formatting it per row was the projector's
    /// hottest path (a UUID and a block number to text for every one of millions of rows).
    private var batchIDs: BatchIDs

    package init(ledgerID: UUID, rates: RateBook, quarantine: Bool) {
        self.ledgerID = ledgerID
        self.rates = rates
        self.quarantine = quarantine
        batchIDs = BatchIDs(ledgerID: ledgerID)
    }

    /// The batch for `entries` (consecutive LSNs). Without quarantine, an unprojectable record ends the batch
    /// just before it and comes back as `stop`: the caller commits what precedes it, then stops with the error.
    package mutating func build(_ entries: [LedgerEntry]) -> (batch: ProjectionBatch, stop: ProjectorError?) {
        precondition(!entries.isEmpty, "a batch covers at least one record")
        var batch = ProjectionBatch(ledgerID: ledgerID, firstLSN: entries[0].lsn, lastLSN: entries[0].lsn - 1)
        batch.transactions.reserveCapacity(entries.count)
        for entry in entries {
            precondition(entry.lsn == batch.lastLSN + 1, "ledger entries arrive in LSN order without holes")
            do {
                try add(entry, to: &batch)
            } catch let unprojectable as UnprojectableRecord {
                guard quarantine else { return (batch, error(unprojectable, entry)) }
                batch.quarantined.append(
                    QuarantineRow(
                        ledgerID: ledgerID, lsn: entry.lsn, kind: entry.record.kind.description,
                        reason: "\(unprojectable.reason): \(unprojectable.detail)", source: entry.record.source))
            } catch {
                preconditionFailure("add throws only UnprojectableRecord, not \(error)")
            }
            batch.lastLSN = entry.lsn
            batch.lastIngestMicroseconds = entry.record.ingestTimeMicroseconds
        }
        return (batch, nil)
    }

    private func error(_ unprojectable: UnprojectableRecord, _ entry: LedgerEntry) -> ProjectorError {
        ProjectorError(
            .unprojectableRecord,
            "a ledger record cannot be projected (run with --quarantine to set such records aside)",
            [
                ("ledger.id", ledgerID.text), ("ledger.lsn", String(entry.lsn)),
                ("record.kind", entry.record.kind.description),
                ("reason", unprojectable.reason), ("detail", unprojectable.detail),
                (
                    "source",
                    "\(entry.record.source.topic)[\(entry.record.source.partition)]@\(entry.record.source.offset)"
                ),
            ])
    }

    private mutating func add(_ entry: LedgerEntry, to batch: inout ProjectionBatch) throws {
        // The bounds the writer enforces; ledgers written before a bound was enforced may still break them.
        if let violation = RecordBounds.violation(in: entry.record) {
            throw UnprojectableRecord(reason: violation.reason, detail: violation.detail)
        }
        let record = entry.record
        switch record.body {
        case .accepted(let transaction):
            batch.transactions.append(row(transaction, entry))
        case .duplicate(let transaction, _):
            batch.duplicates.append(row(transaction, entry))
        case .conflict(let transaction, let originalLSN):
            batch.rejections.append(conflictRow(transaction, originalLSN: originalLSN, entry))
        case .rejected(let rejected):
            batch.rejections.append(rejectedRow(rejected, entry))
        case .gap(let lastMissingOffset):
            batch.gaps.append(
                GapRow(
                    topic: record.source.topic, partition: record.source.partition, firstOffset: record.source.offset,
                    lastOffset: lastMissingOffset, recordedMicroseconds: record.ingestTimeMicroseconds,
                    ledgerID: ledgerID, lsn: entry.lsn))
        case .lost:
            // No message to project: the LSN is accounted for where set-aside records are, never skipped silently.
            batch.quarantined.append(
                QuarantineRow(
                    ledgerID: ledgerID, lsn: entry.lsn, kind: record.kind.description,
                    reason:
                        "lost: a published record was damaged and dropped by an operator (ledger-tool rebuild index --drop-durable-records)",
                    source: record.source))
        }
    }

    private mutating func row(_ transaction: Transaction, _ entry: LedgerEntry) -> TransactionRow {
        let cents = transaction.amount.rawValue
        let time = transaction.timestamp.microsecondsSinceEpoch
        let (rate, rule) = (rates.taxRate(at: time), rates.amountRule(at: time))
        let tax = rate.taxCents(amountCents: cents)
        return TransactionRow(
            orderID: transaction.orderID, amountCents: cents, currency: transaction.currency.code,
            taxCents: tax, totalCents: cents + tax, taxRateVersion: rate.version,
            isFraudFlagged: rule.flags(amountCents: cents), extraMembers: transaction.extraMembers,
            customerID: transaction.customerID,
            productCategory: transaction.productCategory,
            timestampMicroseconds: transaction.timestamp.microsecondsSinceEpoch, batchID: batchIDs.id(lsn: entry.lsn),
            ledgerID: ledgerID, lsn: entry.lsn, source: entry.record.source, rulesVersion: rule.version,
            receivedMicroseconds: entry.record.ingestTimeMicroseconds)
    }

    private mutating func rejectedRow(_ rejected: RejectedMessage, _ entry: LedgerEntry) -> RejectionRow {
        var row = baseRejection(
            entry, kind: .rejected, reason: rejected.rejection.reason.code, field: rejected.rejection.field)
        row.rawBytes = rejected.rawBytes
        row.rawText = rejected.rawBytes.flatMap(RejectionRow.storableText)
        row.originalByteCount = Int32(clamping: rejected.originalByteCount)
        return row
    }

    private mutating func conflictRow(_ transaction: Transaction, originalLSN: UInt64, _ entry: LedgerEntry)
        -> RejectionRow
    {
        var row = baseRejection(
            entry, kind: .conflict, reason: RejectReason.conflictingDuplicate.code, field: "order_id")
        // The ledger keeps a conflict's parsed content, not its bytes: show that content as JSON for the dashboards.
        let text = RejectionRow.contentText(transaction)
        row.rawText = RejectionRow.storableText(Array(text.utf8))
        row.originalByteCount = Int32(clamping: text.utf8.count)
        row.orderID = transaction.orderID
        row.originalLSN = originalLSN
        return row
    }

    private mutating func baseRejection(_ entry: LedgerEntry, kind: RejectionRow.Kind, reason: String, field: String)
        -> RejectionRow
    {
        let record = entry.record
        return RejectionRow(
            kind: kind, reason: reason, field: field, source: record.source,
            receivedMicroseconds: record.ingestTimeMicroseconds,
            kafkaTimestampMicroseconds: RejectionRow.kafkaMicroseconds(record.source), rawBytes: nil, rawText: nil,
            originalByteCount: 0,
            orderID: nil, originalLSN: nil, ledgerID: ledgerID, lsn: entry.lsn, batchID: batchIDs.id(lsn: entry.lsn))
    }

}

/// `Transform.batchID`, formatted once per LSN block instead of once per row.
struct BatchIDs {
    private let ledgerID: UUID
    private var block = UInt64.max
    private var current = ""

    init(ledgerID: UUID) { self.ledgerID = ledgerID }

    mutating func id(lsn: UInt64) -> String {
        let lsnBlock = (lsn - 1) / ProjectorLimits.batchLSNBlockSize
        if lsnBlock != block {
            block = lsnBlock
            current = Transform.batchID(ledgerID: ledgerID, lsn: lsn)
        }
        return current
    }
}
