import Foundation
import MessageSchema

/// The one set of bounds on what a record holds (DESIGN.md invariant 8, "durable means readable and
/// projectable"): the record codec can write and read it back, and the warehouse can hold it.
///
/// Three parties check values, on the same measures (UTC instants, UTF-8 bytes and Unicode scalars):
/// - the validator refuses a message whose values break them (with a rejection reason the producer can act on);
/// - the writer refuses to append a record that breaks them, so nothing unreadable or unprojectable is ever
///   made durable (a record that reaches this check is a bug upstream, caught before it can brick the ledger);
///   for a message's transaction, `LedgerAppender` makes this check where the message is validated
///   (`ValidatedMessage.boundsViolation`, off the ingest thread) and refuses the record itself, and the writer
///   checks the rest (`violation(outsideTransactionOf:)`);
/// - the projector checks them again on what it reads, for ledgers written before a bound was enforced.
/// The cross-seam fuzzer (`fuzz-roundtrip`) drives arbitrary bytes through all three.
public enum RecordBounds {
    /// One value out of bounds: a stable reason code and a detail naming the field and the value.
    public struct Violation: Sendable, Hashable, CustomStringConvertible {
        public var reason: String
        public var detail: String
        public var description: String { "\(reason): \(detail)" }
    }

    /// The first value of `record` out of bounds, nil when every value is within them.
    public static func violation(in record: Record) -> Violation? {
        violation(outsideTransactionOf: record) ?? record.transaction.flatMap { violation(in: $0) }
    }

    /// The first value of `record` out of bounds other than those of its transaction (checked on its own,
    /// `violation(in: Transaction)`, where a message is validated: see `ValidatedMessage`).
    static func violation(outsideTransactionOf record: Record) -> Violation? {
        if let violation = text(record.source.topic, "source.topic", bytesMax: Limits.topicBytesMax) {
            return violation
        }
        if let violation = timestamp(record.ingestTimeMicroseconds, "ingest_time") { return violation }
        switch record.body {
        case .accepted, .duplicate, .conflict:
            return nil
        case .rejected(let rejected):
            guard rejected.originalByteCount >= 0 else {
                return Violation(reason: "size_negative", detail: "original size \(rejected.originalByteCount) bytes")
            }
            return text(rejected.rejection.field, "field", bytesMax: MessageLimits.rejectionFieldBytesMax)
        case .gap(let lastMissingOffset):
            return lastMissingOffset >= record.source.offset
                ? nil
                : Violation(
                    reason: "gap_reversed", detail: "gap \(record.source.offset)...\(lastMissingOffset) is empty")
        case .lost:
            return record.source == .unknown
                ? nil : Violation(reason: "lost_with_source", detail: "a lost record names no source")
        }
    }

    /// A message's kept members outside the schema: what `ExtraMembers.isStorable` allows.
    private static func extraMembers(_ text: String?) -> Violation? {
        guard let text, !ExtraMembers.isStorable(text) else { return nil }
        return Violation(
            reason: "extra_members_unstorable",
            detail:
                "extra members (\(text.utf8.count) bytes) are not one JSON object of at most \(Limits.extraMembersBytesMax) bytes without \\u0000"
        )
    }

    /// The first value of `transaction` out of bounds, nil when every value is within them.
    public static func violation(in transaction: Transaction) -> Violation? {
        let cents = transaction.amount.rawValue
        guard cents > 0 && cents <= Cents.maximum.rawValue else {
            return Violation(
                reason: "amount_out_of_range", detail: "amount \(transaction.amount) is not in 0.01...\(Cents.maximum)")
        }
        return text(transaction.currency.code, "currency", bytesMax: 3, scalarsMax: 3)
            ?? text(
                transaction.customerID, "customer_id", bytesMax: MessageLimits.textFieldBytesMax,
                scalarsMax: MessageLimits.textFieldCharactersMax)
            ?? text(
                transaction.productCategory, "product_category", bytesMax: MessageLimits.textFieldBytesMax,
                scalarsMax: MessageLimits.textFieldCharactersMax)
            ?? timestamp(transaction.timestamp.microsecondsSinceEpoch, "timestamp")
            ?? extraMembers(transaction.extraMembers)
    }

    /// Text the codec stores in at most `bytesMax` bytes and PostgreSQL holds: no U+0000 (text columns cannot
    /// hold it), and at most `scalarsMax` Unicode scalars (VARCHAR(n) counts code points).
    public static func text(_ text: String, _ field: String, bytesMax: Int, scalarsMax: Int? = nil) -> Violation? {
        // This runs for every text of every record the writer appends: over the contiguous UTF-8 bytes, with
        // memchr for U+0000 (the byte 0), and scalars counted only when the byte count could exceed their bound.
        var text = text
        let (bytes, hasNUL, scalars) = text.withUTF8 { utf8 -> (Int, Bool, Int) in
            let hasNUL = utf8.count > 0 && memchr(utf8.baseAddress!, 0, utf8.count) != nil
            guard let scalarsMax, utf8.count > scalarsMax else { return (utf8.count, hasNUL, 0) }
            // A scalar starts at every byte that is not a continuation byte (10xxxxxx).
            var scalars = 0
            for byte in utf8 where byte & 0xC0 != 0x80 { scalars += 1 }
            return (utf8.count, hasNUL, scalars)
        }
        if hasNUL {
            return Violation(
                reason: "nul_in_text", detail: "\(field) contains U+0000, which PostgreSQL text cannot hold")
        }
        if let scalarsMax, scalars > scalarsMax {
            return Violation(
                reason: "text_too_long", detail: "\(field) has \(scalars) characters, more than \(scalarsMax)")
        }
        if bytes > bytesMax {
            return Violation(
                reason: "text_too_long", detail: "\(field) has \(bytes) UTF-8 bytes, more than \(bytesMax)")
        }
        return nil
    }

    /// An instant within `MessageLimits.timestampMicrosecondsRange` (years 0001–9999 in UTC).
    public static func timestamp(_ microseconds: Int64, _ field: String) -> Violation? {
        guard !MessageLimits.timestampMicrosecondsRange.contains(microseconds) else { return nil }
        return Violation(
            reason: "timestamp_out_of_range",
            detail: "\(field) \(RFC3339.format(microsecondsSinceEpoch: microseconds)) is outside years 0001-9999 UTC")
    }
}
