import Foundation

/// The strict validator of a transaction message: one Kafka message value, a JSON object with exactly the six
/// fields of the original producer's schema,
/// `{"order_id": "uuid", "amount": 150.99, "currency": "USD", "timestamp": "2024-01-15T10:30:00Z",
///   "customer_id": "cust_12345", "product_category": "electronics"}`.
///
/// Checks, in order of precedence (the first failing check is the rejection):
/// 1. null value, empty value, size above `MessageLimits.messageBytesMax` (before reading a byte of it);
/// 2. UTF-8 well-formedness of the whole value;
/// 3. JSON well-formedness of the whole value (RFC 8259, nesting at most `StrictJSONScanner.nestingLevelsMax`);
/// 4. the top-level value is an object;
/// 5. keys, compared after unescaping: the first repeated key, else the first unknown key, else the first
///    missing field in schema order;
/// 6. JSON types, in schema order: amount a number, every other field a string (null is a wrong type);
/// 7. values, in schema order (order_id, amount, currency, timestamp, customer_id, product_category).
///
/// Works on raw bytes in one pass for UTF-8 and one for JSON; allocates only the results (and, for rejected or
/// escaped input, what describing it needs).
public enum MessageValidator {
    /// Bumped whenever the rules change; travels in dead-letter headers.
    public static let version: Int = 1

    /// Validates one Kafka message value. nil means a Kafka null value. `unknownFields` says what a member
    /// outside the schema does (default: reject the message, `unknown_field`).
    public static func validate(_ value: UnsafeRawBufferPointer?, unknownFields: UnknownFieldPolicy = .reject)
        -> Result<Transaction, Rejection>
    {
        do {
            return .success(try transaction(from: value, unknownFields: unknownFields))
        } catch {
            return .failure(error)
        }
    }

    /// Validates one Kafka message value held in an array. nil means a Kafka null value.
    public static func validate(_ value: [UInt8]?, unknownFields: UnknownFieldPolicy = .reject)
        -> Result<Transaction, Rejection>
    {
        guard let value else { return validate(nil as UnsafeRawBufferPointer?, unknownFields: unknownFields) }
        return value.withUnsafeBytes { validate($0, unknownFields: unknownFields) }
    }

    // MARK: Steps

    private static func transaction(from value: UnsafeRawBufferPointer?, unknownFields: UnknownFieldPolicy)
        throws(Rejection) -> Transaction
    {
        guard let message = value else { throw Rejection(.valueNull) }
        guard message.count > 0 else { throw Rejection(.valueEmpty) }
        guard message.count <= MessageLimits.messageBytesMax else { throw Rejection(.messageTooLarge) }
        guard UTF8Validation.isValid(message) else { throw Rejection(.invalidUTF8) }
        let (fields, extraMembers) = try scanFields(of: message, unknownFields: unknownFields)
        try checkTypes(of: fields)
        var transaction = try makeTransaction(from: fields, in: message)
        transaction.extraMembers = extraMembers
        return transaction
    }

    /// Checks the JSON text and the top-level object's keys; returns where each field's value lies.
    /// Checks the JSON text and the top-level object's keys; returns where each field's value lies and, with
    /// `.keep`, the members outside the schema as one JSON object's text.
    private static func scanFields(of message: UnsafeRawBufferPointer, unknownFields: UnknownFieldPolicy)
        throws(Rejection) -> (ScannedFields, String?)
    {
        var collector = FieldCollector(message: message)
        let isObject: Bool
        do {
            isObject = try scanDocument(message, into: &collector)
        } catch {
            throw Rejection(.invalidJSON)
        }
        guard isObject else { throw Rejection(.notAnObject) }
        let fields = try collector.checkedFields(unknownFields: unknownFields)
        return (fields, unknownFields == .keep ? try collector.extraMembers() : nil)
    }

    /// Checks the whole JSON text, handing the members of a top-level object to `collector`; returns whether the
    /// top-level value is an object.
    private static func scanDocument(_ message: UnsafeRawBufferPointer, into collector: inout FieldCollector)
        throws(JSONSyntaxError) -> Bool
    {
        var scanner = StrictJSONScanner(message)
        guard scanner.beginDocument() else {
            try scanner.skipTopLevelNonObject()
            return false
        }
        while let member = try scanner.nextMember() {
            collector.record(key: member.key, value: member.value)
        }
        try scanner.finishDocument()
        return true
    }

    /// Step 6: every field holds the JSON type the schema gives it.
    private static func checkTypes(of fields: ScannedFields) throws(Rejection) {
        for field in TransactionField.allCases {
            let expected: JSONValueKind = field == .amount ? .number : .string
            guard fields[field]?.kind == expected else { throw Rejection(.wrongType, field: field.key) }
        }
    }

    /// Step 7: the value checks, in schema order, building the transaction.
    private static func makeTransaction(from fields: ScannedFields, in message: UnsafeRawBufferPointer)
        throws(Rejection) -> Transaction
    {
        let text = FieldText(fields: fields, message: message)
        let orderID = try text.decoded(.orderID, FieldChecks.orderID)
        let amount = try FieldChecks.amount(text.raw(.amount))
        let currency = try text.decoded(.currency, FieldChecks.currency)
        let timestamp = try text.decoded(.timestamp, FieldChecks.timestamp)
        let customerID = try text.decoded(.customerID) { bytes throws(Rejection) in
            try FieldChecks.boundedText(bytes, field: .customerID)
        }
        let productCategory = try text.decoded(.productCategory) { bytes throws(Rejection) in
            try FieldChecks.boundedText(bytes, field: .productCategory)
        }
        return Transaction(
            orderID: orderID, amount: amount, currency: currency, timestamp: timestamp, customerID: customerID,
            productCategory: productCategory)
    }
}

/// What a member outside the schema does to a message: schema evolution on the producer's side (a new
/// `payment_method`) need not turn the whole stream into dead letters.
public enum UnknownFieldPolicy: String, Sendable, CaseIterable {
    /// Reject the message (`unknown_field`): the strict default.
    case reject
    /// Accept it as if the member were absent: the ledger keeps the schema's six fields. A repeated unknown key is
    /// still `duplicate_key` (which of its values counts is ambiguous), and the whole text must still be JSON.
    case ignore
    /// Accept it and keep the members outside the schema (`Transaction.extraMembers`, in the ledger and in the
    /// warehouse's `extra_members` jsonb column); more than `MessageLimits.extraMembersBytesMax` of them is
    /// `unknown_field`, as with `.reject`.
    case keep
}

// MARK: - Fields

/// The six fields of the schema, in schema order (the order in which problems are reported).
enum TransactionField: Int, CaseIterable, Sendable {
    case orderID, amount, currency, timestamp, customerID, productCategory

    /// The JSON key.
    var key: String { staticKey.description }

    /// The JSON key as static text, compared with message bytes without creating a String.
    private var staticKey: StaticString {
        switch self {
        case .orderID: "order_id"
        case .amount: "amount"
        case .currency: "currency"
        case .timestamp: "timestamp"
        case .customerID: "customer_id"
        case .productCategory: "product_category"
        }
    }

    /// The field whose key is exactly these (unescaped) bytes, nil for any other key.
    init?(key: UnsafeRawBufferPointer) {
        // Dispatch on the length first: only order_id and currency share one, so at most two comparisons.
        switch key.count {
        case 6 where Self.amount.matches(key): self = .amount
        case 8 where Self.orderID.matches(key): self = .orderID
        case 8 where Self.currency.matches(key): self = .currency
        case 9 where Self.timestamp.matches(key): self = .timestamp
        case 11 where Self.customerID.matches(key): self = .customerID
        case 16 where Self.productCategory.matches(key): self = .productCategory
        default: return nil
        }
    }

    private func matches(_ key: UnsafeRawBufferPointer) -> Bool {
        let expected = staticKey
        guard expected.utf8CodeUnitCount == key.count else { return false }
        for index in 0..<key.count where key[index] != expected.utf8Start[index] {
            return false
        }
        return true
    }
}

/// Where each known field's value lies in the message (nil: absent).
struct ScannedFields {
    private var values:
        (JSONValueSpan?, JSONValueSpan?, JSONValueSpan?, JSONValueSpan?, JSONValueSpan?, JSONValueSpan?) =
            (nil, nil, nil, nil, nil, nil)

    subscript(field: TransactionField) -> JSONValueSpan? {
        get {
            switch field {
            case .orderID: values.0
            case .amount: values.1
            case .currency: values.2
            case .timestamp: values.3
            case .customerID: values.4
            case .productCategory: values.5
            }
        }
        set {
            switch field {
            case .orderID: values.0 = newValue
            case .amount: values.1 = newValue
            case .currency: values.2 = newValue
            case .timestamp: values.3 = newValue
            case .customerID: values.4 = newValue
            case .productCategory: values.5 = newValue
            }
        }
    }
}

/// Collects the members of the top-level object and the first key problem of each kind (step 5).
private struct FieldCollector {
    let message: UnsafeRawBufferPointer
    private(set) var fields = ScannedFields()
    private var firstDuplicateKey: String?
    private var firstUnknownKey: String?
    /// Unknown keys seen so far, unescaped, to detect repeated unknown keys; only allocated once one appears.
    private var unknownKeys: Set<[UInt8]> = []
    /// The unknown members (key and value as scanned), in order, for `.keep`.
    private var unknownMembers: [(key: JSONValueSpan, value: JSONValueSpan)] = []

    init(message: UnsafeRawBufferPointer) {
        self.message = message
    }

    mutating func record(key: JSONValueSpan, value: JSONValueSpan) {
        let rawKey = UnsafeRawBufferPointer(rebasing: message[key.start..<key.end])
        if !key.hasEscapes, let field = TransactionField(key: rawKey) {
            record(field, value: value)
            return
        }
        let unescaped = key.hasEscapes ? JSONEscapes.unescape(rawKey) : Array(rawKey)
        if let field = unescaped.withUnsafeBytes({ TransactionField(key: $0) }) {
            record(field, value: value)
        } else if !unknownKeys.insert(unescaped).inserted {
            firstDuplicateKey = firstDuplicateKey ?? Self.rejectionFieldName(unescaped)
        } else {
            firstUnknownKey = firstUnknownKey ?? Self.rejectionFieldName(unescaped)
            unknownMembers.append((key, value))
        }
    }

    /// The unknown members as one JSON object, each member's key and value as the message wrote them (a string's
    /// escapes included); nil when there were none. More than `MessageLimits.extraMembersBytesMax` is refused.
    func extraMembers() throws(Rejection) -> String? {
        guard let first = firstUnknownKey, !unknownMembers.isEmpty else { return nil }
        var text: [UInt8] = [UInt8(ascii: "{")]
        for (index, member) in unknownMembers.enumerated() {
            if index > 0 { text.append(UInt8(ascii: ",")) }
            text.append(UInt8(ascii: "\""))
            text += message[member.key.start..<member.key.end]
            text += Array("\":".utf8)
            let quoted = member.value.kind == .string
            if quoted { text.append(UInt8(ascii: "\"")) }
            text += message[member.value.start..<member.value.end]
            if quoted { text.append(UInt8(ascii: "\"")) }
        }
        text.append(UInt8(ascii: "}"))
        // More than can be kept, or a NUL escape jsonb cannot hold: keeping part of it would change what it said.
        let kept = String(decoding: text, as: UTF8.self)
        guard ExtraMembers.isStorable(kept) else { throw Rejection(.unknownField, field: first) }
        return kept
    }

    private mutating func record(_ field: TransactionField, value: JSONValueSpan) {
        if fields[field] == nil {
            fields[field] = value
        } else {
            firstDuplicateKey = firstDuplicateKey ?? field.key
        }
    }

    /// The fields, once every key problem has been ruled out.
    func checkedFields(unknownFields: UnknownFieldPolicy) throws(Rejection) -> ScannedFields {
        if let key = firstDuplicateKey { throw Rejection(.duplicateKey, field: key) }
        if let key = firstUnknownKey, unknownFields == .reject { throw Rejection(.unknownField, field: key) }
        for field in TransactionField.allCases where fields[field] == nil {
            throw Rejection(.missingField, field: field.key)
        }
        return fields
    }

    /// An offending key as a rejection's field. Only a bounded prefix is decoded (a key may be a whole message
    /// long); `Rejection.init` then cuts it to what the ledger stores, at a character boundary.
    private static func rejectionFieldName(_ key: [UInt8]) -> String {
        UTF8Text.prefix(key, bytesMax: MessageLimits.rejectionFieldBytesMax)
    }
}

/// The text of the fields' values: raw from the message, or unescaped when the string holds escapes.
private struct FieldText {
    let fields: ScannedFields
    let message: UnsafeRawBufferPointer

    /// The raw text of a field's value (for a string, its content still escaped).
    func raw(_ field: TransactionField) -> UnsafeRawBufferPointer {
        guard let span = fields[field] else { preconditionFailure("fields were checked present") }
        return UnsafeRawBufferPointer(rebasing: message[span.start..<span.end])
    }

    /// Runs `check` on a string field's unescaped UTF-8 content; unescapes into a copy only when needed.
    func decoded<Value>(
        _ field: TransactionField, _ check: (UnsafeRawBufferPointer) throws(Rejection) -> Value
    ) throws(Rejection) -> Value {
        guard let span = fields[field] else { preconditionFailure("fields were checked present") }
        guard span.hasEscapes else { return try check(raw(field)) }
        let unescaped = JSONEscapes.unescape(raw(field))
        let result = unescaped.withUnsafeBytes { bytes in Result { () throws(Rejection) in try check(bytes) } }
        return try result.get()
    }
}

// MARK: - Value checks

/// The value checks of step 7, one per field, each given the field's unescaped bytes.
enum FieldChecks {
    /// Characters in a canonical UUID: 32 hexadecimal digits and 4 hyphens.
    static let uuidCharactersCount = 36

    /// order_id: a canonical 8-4-4-4-12 hexadecimal UUID of either case (any version or variant).
    static func orderID(_ bytes: UnsafeRawBufferPointer) throws(Rejection) -> UUID {
        // Made only on failure: this runs for every message.
        var invalid: Rejection { Rejection(.invalidOrderID, field: TransactionField.orderID.key) }
        guard bytes.count == uuidCharactersCount else { throw invalid }
        // 8-4-4-4-12: the first 16 digits (8-4-4) make the high word, the last 16 (4-12) the low one.
        var high: UInt64 = 0
        var low: UInt64 = 0
        guard bytes[8] == ASCII.minus, bytes[13] == ASCII.minus, bytes[18] == ASCII.minus, bytes[23] == ASCII.minus,
            appendHexDigits(bytes[0..<8], to: &high), appendHexDigits(bytes[9..<13], to: &high),
            appendHexDigits(bytes[14..<18], to: &high), appendHexDigits(bytes[19..<23], to: &low),
            appendHexDigits(bytes[24..<36], to: &low)
        else { throw invalid }
        return uuid(high: high, low: low)
    }

    /// Shifts the value of hexadecimal `digits` into the low bits of `value`; false if one is not a hex digit.
    private static func appendHexDigits(_ digits: Slice<UnsafeRawBufferPointer>, to value: inout UInt64) -> Bool {
        for byte in digits {
            guard let digit = ASCII.hexDigitValue(byte) else { return false }
            value = value << 4 | UInt64(digit)
        }
        return true
    }

    /// A UUID from its 128 bits, most significant first.
    private static func uuid(high: UInt64, low: UInt64) -> UUID {
        func byte(_ word: UInt64, _ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: word >> UInt64(56 - 8 * index)) }
        return UUID(
            uuid: (
                byte(high, 0), byte(high, 1), byte(high, 2), byte(high, 3), byte(high, 4), byte(high, 5),
                byte(high, 6), byte(high, 7), byte(low, 0), byte(low, 1), byte(low, 2), byte(low, 3),
                byte(low, 4), byte(low, 5), byte(low, 6), byte(low, 7)
            ))
    }

    /// Most digits before the decimal point of an amount: NUMERIC(12,2) keeps 10.
    static let amountIntegerDigitsMax = 10
    /// Most digits after the decimal point of an amount: cents.
    static let amountFractionDigitsMax = 2

    /// amount: the number's text, read exactly as `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, never through a Double.
    ///
    /// Precedence: an exponent (or any other shape) is `.invalidAmount`; more than two fraction digits is
    /// `.amountTooPrecise`, even when they are zeros ("1.500" is refused: whoever wrote three digits had a
    /// precision in mind that the ledger cannot keep); then zero or negative (including -0 and 0.00) is
    /// `.amountNotPositive`; then above `Cents.maximum` is `.amountTooLarge`. Digit strings of any length are
    /// measured before being converted, so no length overflows.
    static func amount(_ text: UnsafeRawBufferPointer) throws(Rejection) -> Cents {
        func reject(_ reason: RejectReason) -> Rejection { Rejection(reason, field: TransactionField.amount.key) }
        var index = 0
        let isNegative = index < text.count && text[index] == ASCII.minus
        if isNegative { index += 1 }
        let integerDigits = digitRun(in: text, from: &index)
        var fractionDigits = UnsafeRawBufferPointer(start: nil, count: 0)
        var hasPoint = false
        if index < text.count, text[index] == ASCII.dot {
            hasPoint = true
            index += 1
            fractionDigits = digitRun(in: text, from: &index)
        }
        let hasLeadingZero = integerDigits.count > 1 && integerDigits[0] == ASCII.zero
        guard index == text.count, !integerDigits.isEmpty, !hasLeadingZero, !hasPoint || !fractionDigits.isEmpty
        else { throw reject(.invalidAmount) }
        guard fractionDigits.count <= amountFractionDigitsMax else { throw reject(.amountTooPrecise) }
        guard integerDigits.count <= amountIntegerDigitsMax else {
            throw reject(isNegative ? .amountNotPositive : .amountTooLarge)
        }
        let fractionScale: Int64 = fractionDigits.count == 1 ? 10 : 1
        let cents = decimalValue(integerDigits) * 100 + decimalValue(fractionDigits) * fractionScale
        guard !isNegative, cents > 0 else { throw reject(.amountNotPositive) }
        guard cents <= Cents.maximum.rawValue else { throw reject(.amountTooLarge) }
        return Cents(rawValue: cents)
    }

    /// The decimal digits from `index` on (possibly none); moves `index` past them.
    private static func digitRun(in text: UnsafeRawBufferPointer, from index: inout Int) -> UnsafeRawBufferPointer {
        let start = index
        while index < text.count, ASCII.isDigit(text[index]) { index += 1 }
        return UnsafeRawBufferPointer(rebasing: text[start..<index])
    }

    /// The value of at most 18 decimal digits (callers bound the count, so this cannot overflow).
    private static func decimalValue(_ digits: UnsafeRawBufferPointer) -> Int64 {
        precondition(digits.count <= 18, "callers bound the digit count")
        var value: Int64 = 0
        for digit in digits { value = value * 10 + Int64(digit - ASCII.zero) }
        return value
    }

    /// currency: an active ISO 4217 code, upper case.
    static func currency(_ bytes: UnsafeRawBufferPointer) throws(Rejection) -> CurrencyCode {
        guard ISO4217.isActiveCode(bytes) else {
            throw Rejection(.unknownCurrency, field: TransactionField.currency.key)
        }
        return CurrencyCode(unchecked: String(decoding: bytes, as: UTF8.self))
    }

    /// timestamp: an RFC 3339 date-time with a zone (see `RFC3339`).
    static func timestamp(_ bytes: UnsafeRawBufferPointer) throws(Rejection) -> UTCTimestamp {
        switch RFC3339.parse(bytes) {
        case .success(let timestamp): return timestamp
        case .failure(let reason): throw Rejection(reason, field: TransactionField.timestamp.key)
        }
    }

    /// customer_id, product_category: non-empty, at most `MessageLimits.textFieldCharactersMax` characters, counted as
    /// Unicode scalars, because that is what PostgreSQL's VARCHAR(n) counts in a UTF-8 database.
    static func boundedText(_ bytes: UnsafeRawBufferPointer, field: TransactionField) throws(Rejection) -> String {
        guard !bytes.isEmpty else { throw Rejection(.emptyField, field: field.key) }
        // Scalars are the bytes that do not continue a sequence (the text is valid UTF-8).
        var scalarCount = 0
        for byte in bytes where byte & 0xC0 != 0x80 { scalarCount += 1 }
        guard scalarCount <= MessageLimits.textFieldCharactersMax else {
            throw Rejection(.fieldTooLong, field: field.key)
        }
        // Control characters (escaped in the JSON, e.g. "\u0000") are no part of an identifier, and PostgreSQL
        // text cannot hold NUL at all: refuse them here rather than fail in the warehouse.
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw Rejection(.controlCharacter, field: field.key)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
