import Foundation
import Ledger
import MessageSchema

/// The fraud rule applied while projecting: a transaction is flagged when its amount is above a threshold.
/// Version 1 is the original ETL's rule, amount > 1000.00. Versions live in the warehouse's `fraud_rules`
/// table; every row records the version that flagged (or cleared) it.
public struct AmountRule: Sendable, Hashable {
    public var version: Int32
    public var thresholdCents: Int64

    public init(version: Int32, thresholdCents: Int64) {
        self.version = version
        self.thresholdCents = thresholdCents
    }

    /// Rule version 1: amount > 1000.00, as in the original pipeline.
    public static let original = AmountRule(version: 1, thresholdCents: 100_000)

    public func flags(amountCents: Int64) -> Bool { amountCents > thresholdCents }
}

/// The transform step of the original pipeline, in exact integers.
public enum Transform {
    /// tax = amount × the original rate (0.085) rounded half-up to the cent: 1.00 → 0.085 → 0.09; 0.10 → 0.0085 →
    /// 0.01; 0.01 → 0.00085 → 0.00. The rate in force at a row's time comes from the warehouse (`RateBook`).
    public static func taxCents(amountCents: Int64) -> Int64 { TaxRate.original.taxCents(amountCents: amountCents) }

    /// total = amount + tax. At most 10 849 999 999.99 at 8.5 %, 19 999 899 999.99 at the highest rate a version
    /// may have (0.99999): total_amount is NUMERIC(13,2).
    public static func totalCents(amountCents: Int64) -> Int64 { amountCents + taxCents(amountCents: amountCents) }

    /// The batch id of the row at `lsn`: the ledger id (32 hex digits) and the number of its block of
    /// `ProjectorLimits.batchLSNBlockSize` LSNs, e.g. "3f2a…9c-12" for LSNs 49153…53248. A pure function of
    /// the ledger and the LSN, so any replay or rebuild gives the same id. At most 32 + 1 + 16 = 49 characters:
    /// it fits the original VARCHAR(50).
    public static func batchID(ledgerID: UUID, lsn: UInt64) -> String {
        precondition(lsn >= 1, "LSNs start at 1")
        return ledgerID.text.replacingOccurrences(of: "-", with: "") + "-"
            + String((lsn - 1) / ProjectorLimits.batchLSNBlockSize)
    }

    /// The first and last LSN of the block a batch id names.
    public static func lsnRange(ofBlock block: UInt64) -> ClosedRange<UInt64> {
        let size = ProjectorLimits.batchLSNBlockSize
        return (block * size + 1)...(block * size + size)
    }
}

// MARK: Rows

/// A row of `transactions` (and its key in `message_keys`).
package struct TransactionRow: Sendable, Hashable {
    var orderID: UUID
    var amountCents: Int64
    var currency: String
    var taxCents: Int64
    var totalCents: Int64
    var taxRateVersion: Int32
    var isFraudFlagged: Bool
    /// The message's members outside the schema (JSON object text), kept with `--unknown-fields keep`.
    var extraMembers: String?
    var customerID: String
    var productCategory: String
    var timestampMicroseconds: Int64
    var batchID: String
    var ledgerID: UUID
    var lsn: UInt64
    var source: SourceCoordinates
    var rulesVersion: Int32
    /// When ledger-ingest received the message: not a column of `transactions`, but `received_at` of the
    /// conflict row the projector makes when another ledger accepted the same order with other content.
    var receivedMicroseconds: Int64

    var day: UTCCalendar.Day { UTCCalendar.Day(microsecondsSinceEpoch: timestampMicroseconds) }
}

/// A row of `rejected_messages`: a rejected message or a conflicting duplicate.
package struct RejectionRow: Sendable, Hashable {
    enum Kind: String, Sendable { case rejected, conflict }
    var kind: Kind
    var reason: String
    var field: String
    var source: SourceCoordinates
    var receivedMicroseconds: Int64
    var kafkaTimestampMicroseconds: Int64?
    var rawBytes: [UInt8]?
    var rawText: String?
    var originalByteCount: Int32
    var orderID: UUID?
    var originalLSN: UInt64?
    var ledgerID: UUID
    var lsn: UInt64
    var batchID: String
}

// The row types below share a shape (stored fields, one per column) and nothing else: each is its table's
// columns, in its COPY order, so they are kept apart rather than folded into one generic row.

/// A row of `ledger_gaps`: offsets deleted by Kafka retention before they could be consumed.
package struct GapRow: Sendable, Hashable {
    var topic: String
    var partition: Int32
    var firstOffset: Int64
    var lastOffset: Int64
    var recordedMicroseconds: Int64
    var ledgerID: UUID
    var lsn: UInt64
}

/// A row of `quarantined_records`: a record the operator chose (`--quarantine`) to set aside.
package struct QuarantineRow: Sendable, Hashable {
    var ledgerID: UUID
    var lsn: UInt64
    var kind: String
    var reason: String
    var source: SourceCoordinates
}
