/// Why a message was refused, with the field it concerns ("" when it concerns the whole message).
public struct Rejection: Sendable, Hashable, Error {
    public let reason: RejectReason
    /// The field, as the record codec, the warehouse and dead-letter headers can all hold it: at most
    /// `MessageLimits.rejectionFieldBytesMax` UTF-8 bytes, cut at a character boundary, with U+0000 (which PostgreSQL
    /// text cannot hold) replaced by U+FFFD. The field may be an offending key from the producer: every rejection
    /// is made storable here, so that no caller can hand the ledger a field it cannot read back.
    public let field: String

    public init(_ reason: RejectReason, field: String = "") {
        self.reason = reason
        self.field = Self.storable(field)
    }

    private static func storable(_ field: String) -> String {
        let withoutNUL = field.utf8.contains(0) ? field.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : field
        guard withoutNUL.utf8.count > MessageLimits.rejectionFieldBytesMax else { return withoutNUL }
        return UTF8Text.prefix(Array(withoutNUL.utf8), bytesMax: MessageLimits.rejectionFieldBytesMax)
    }
}
