import Foundation
import Ledger
import MessageSchema
import OperatingErrors

/// How rejection rows are made from what the ledger keeps: shared by the batch builder and by the loader's
/// conflicts between ledgers, which are found only inside its transaction.
extension RejectionRow {
    /// The conflict row for an accepted record whose order another ledger had already put in the warehouse with
    /// other content (two ingest instances each accepted one version; see DESIGN.md, "Scaling out"). Like a
    /// conflict its own ledger recorded, but `original_lsn` is NULL: the accepted version is in another ledger,
    /// found through `order_id` in `transactions`.
    package init(crossLedgerConflictOf row: TransactionRow) {
        let transaction = Transaction(
            orderID: row.orderID, amount: Cents(rawValue: row.amountCents),
            currency: CurrencyCode(unchecked: row.currency),
            timestamp: UTCTimestamp(microsecondsSinceEpoch: row.timestampMicroseconds), customerID: row.customerID,
            productCategory: row.productCategory)
        let text = Self.contentText(transaction)
        self.init(
            kind: .conflict, reason: RejectReason.conflictingDuplicate.code, field: "order_id", source: row.source,
            receivedMicroseconds: row.receivedMicroseconds,
            kafkaTimestampMicroseconds: Self.kafkaMicroseconds(row.source), rawBytes: nil,
            rawText: Self.storableText(Array(text.utf8)), originalByteCount: Int32(clamping: text.utf8.count),
            orderID: row.orderID,
            originalLSN: nil, ledgerID: row.ledgerID, lsn: row.lsn, batchID: row.batchID)
    }

    /// The Kafka timestamp in microseconds. It is informational: one PostgreSQL cannot hold is left NULL rather
    /// than stopping.
    static func kafkaMicroseconds(_ source: SourceCoordinates) -> Int64? {
        source.kafkaTimestampMilliseconds.flatMap { milliseconds -> Int64? in
            let (micro, overflow) = milliseconds.multipliedReportingOverflow(by: 1000)
            return !overflow && MessageLimits.timestampMicrosecondsRange.contains(micro) ? micro : nil
        }
    }

    /// The bytes as text when they are valid UTF-8 without U+0000 (what a text column can hold), else nil.
    static func storableText(_ bytes: [UInt8]) -> String? {
        guard !bytes.contains(0) else { return nil }
        return String(bytes: bytes, encoding: .utf8)
    }

    /// The conflicting message's content, as the producer's JSON would say it (amount as exact text).
    static func contentText(_ transaction: Transaction) -> String {
        func quoted(_ text: String) -> String {
            var result = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": result += "\\\""
                case "\\": result += "\\\\"
                case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
                default: result.unicodeScalars.append(scalar)
                }
            }
            return result + "\""
        }
        return
            "{\"order_id\": \(quoted(transaction.orderID.uuidString.lowercased())), \"amount\": \(transaction.amount), "
            + "\"currency\": \(quoted(transaction.currency.code)), "
            + "\"timestamp\": \(quoted(RFC3339.format(microsecondsSinceEpoch: transaction.timestamp.microsecondsSinceEpoch))), "
            + "\"customer_id\": \(quoted(transaction.customerID)), \"product_category\": \(quoted(transaction.productCategory))}"
    }
}
