/// Why a message was refused. The raw value is stored in the ledger and the text code travels in dead-letter
/// headers and warehouse rows: both are stable. New reasons get new values; old values are never reused.
public enum RejectReason: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The Kafka message had a null value.
    case valueNull = 1
    /// The message value was zero bytes long.
    case valueEmpty = 2
    /// The message value is larger than `MessageLimits.messageBytesMax`.
    case messageTooLarge = 3
    /// The message value is not valid UTF-8.
    case invalidUTF8 = 4
    /// The message value is not well-formed JSON (RFC 8259).
    case invalidJSON = 5
    /// The JSON value is not an object.
    case notAnObject = 6
    /// The same key appears twice in the object (the field names it).
    case duplicateKey = 7
    /// A key the schema does not know (the field names it).
    case unknownField = 8
    /// A required field is absent.
    case missingField = 9
    /// A field has the wrong JSON type (e.g. amount given as a string).
    case wrongType = 10
    /// order_id is not a UUID in 8-4-4-4-12 hexadecimal form.
    case invalidOrderID = 11
    /// amount is not a plain decimal number (exponent, NaN, leading zeros, …).
    case invalidAmount = 12
    /// amount is zero or negative.
    case amountNotPositive = 13
    /// amount has more than two fraction digits; it would have to be rounded.
    case amountTooPrecise = 14
    /// amount is larger than NUMERIC(12,2) can hold (9 999 999 999.99).
    case amountTooLarge = 15
    /// currency is not an active ISO 4217 code.
    case unknownCurrency = 16
    /// timestamp is not an RFC 3339 date-time, or names a day or time that does not exist.
    case invalidTimestamp = 17
    /// timestamp has no zone designator ("Z" or "±hh:mm").
    case timestampWithoutZone = 18
    /// A text field (customer_id, product_category) is empty.
    case emptyField = 19
    /// A text field is longer than `MessageLimits.textFieldCharactersMax` characters.
    case fieldTooLong = 20
    /// A duplicate order_id with different content: kept in the ledger as a conflict, sent to the dead-letter topic.
    case conflictingDuplicate = 21
    /// A text field holds a control character (U+0000–U+001F or U+007F), e.g. an escaped NUL.
    case controlCharacter = 22
    /// timestamp is a valid date-time whose UTC instant falls outside `MessageLimits.timestampMicrosecondsRange`
    /// (years 0001–9999 in UTC), e.g. "0001-01-01T00:00:00+00:01".
    case timestampOutOfRange = 23

    /// The stable text code, as it appears in dead-letter headers, the warehouse and the dashboards.
    public var code: String {
        switch self {
        case .valueNull: "value_null"
        case .valueEmpty: "value_empty"
        case .messageTooLarge: "message_too_large"
        case .invalidUTF8: "invalid_utf8"
        case .invalidJSON: "invalid_json"
        case .notAnObject: "not_an_object"
        case .duplicateKey: "duplicate_key"
        case .unknownField: "unknown_field"
        case .missingField: "missing_field"
        case .wrongType: "wrong_type"
        case .invalidOrderID: "invalid_order_id"
        case .invalidAmount: "invalid_amount"
        case .amountNotPositive: "amount_not_positive"
        case .amountTooPrecise: "amount_too_precise"
        case .amountTooLarge: "amount_too_large"
        case .unknownCurrency: "unknown_currency"
        case .invalidTimestamp: "invalid_timestamp"
        case .timestampWithoutZone: "timestamp_without_zone"
        case .emptyField: "empty_field"
        case .fieldTooLong: "field_too_long"
        case .conflictingDuplicate: "conflicting_duplicate"
        case .controlCharacter: "control_character"
        case .timestampOutOfRange: "timestamp_out_of_range"
        }
    }

    public var description: String { code }

    /// The reason with this text code, nil for an unknown code.
    public init?(code: String) {
        guard let reason = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = reason
    }
}
