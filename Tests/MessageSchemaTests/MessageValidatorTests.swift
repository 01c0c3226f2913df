import Foundation
import LedgerTesting
import Testing

@testable import MessageSchema

// MARK: - Building messages

/// The schema's keys, in schema order.
private let schemaKeys = ["order_id", "amount", "currency", "timestamp", "customer_id", "product_category"]

/// The raw JSON values of the reference good message, by key.
private let referenceValues: [String: String] = [
    "order_id": #""5f0c6a4e-3d2b-4c1a-9e8f-7a6b5c4d3e2f""#,
    "amount": "150.99",
    "currency": #""USD""#,
    "timestamp": #""2024-01-15T10:30:00Z""#,
    "customer_id": #""cust_12345""#,
    "product_category": #""electronics""#,
]

/// The reference message with some values replaced (raw JSON text), some keys left out, extra members appended.
private func messageText(
    _ replacements: [String: String] = [:], omitting omitted: Set<String> = [], appending extra: String = ""
) -> String {
    let members = schemaKeys.filter { !omitted.contains($0) }.map { key in
        "\"\(key)\":\(replacements[key] ?? referenceValues[key]!)"
    }
    return "{" + (members + (extra.isEmpty ? [] : [extra])).joined(separator: ",") + "}"
}

private func message(
    _ replacements: [String: String] = [:], omitting omitted: Set<String> = [], appending extra: String = ""
) -> [UInt8] {
    Array(messageText(replacements, omitting: omitted, appending: extra).utf8)
}

/// A message made of the reference message's bytes with `bytes` spliced into the customer_id string.
private func messageWithCustomerIDBytes(_ bytes: [UInt8]) -> [UInt8] {
    message(["customer_id": "\"@@\""]).split(separator: UInt8(ascii: "@"), omittingEmptySubsequences: false)
        .enumerated().flatMap { index, part in index == 1 ? bytes : Array(part) }
}

private let referenceOrderID = UUID(uuidString: "5F0C6A4E-3D2B-4C1A-9E8F-7A6B5C4D3E2F")!
/// 2024-01-15T10:30:00Z, computed independently (Python's datetime).
private let referenceMicroseconds: Int64 = 1_705_314_600_000_000

// MARK: - Good messages

extension MessageValidatorTests {
    struct GoodCase: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var orderID: UUID = referenceOrderID
        var cents: Int64 = 15_099
        var currency = "USD"
        var microseconds: Int64 = referenceMicroseconds
        var offsetMinutes: Int16 = 0
        var customerID = "cust_12345"
        var productCategory = "electronics"

        var testDescription: String { name }

        init(_ name: String, _ bytes: [UInt8], change: (inout GoodCase) -> Void = { _ in }) {
            self.name = name
            self.bytes = bytes
            change(&self)
        }
    }
}

private typealias GoodCase = MessageValidatorTests.GoodCase

private func amountCase(_ text: String, _ cents: Int64) -> GoodCase {
    GoodCase("amount \(text)", message(["amount": text])) { $0.cents = cents }
}

private func timestampCase(_ text: String, _ microseconds: Int64, offset: Int16 = 0) -> GoodCase {
    GoodCase("timestamp \(text)", message(["timestamp": "\"\(text)\""])) {
        $0.microseconds = microseconds
        $0.offsetMinutes = offset
    }
}

/// Expected microseconds below were computed with Python's datetime, not with the code under test.
private let goodCases: [GoodCase] = [
    GoodCase("reference message", message()),
    GoodCase(
        "the producer's own spacing",
        Array(
            #"{"order_id": "5f0c6a4e-3d2b-4c1a-9e8f-7a6b5c4d3e2f", "amount": 150.99, "currency": "USD", "timestamp": "2024-01-15T10:30:00Z", "customer_id": "cust_12345", "product_category": "electronics"}"#
                .utf8)),
    GoodCase(
        "whitespace everywhere",
        Array(
            (" \t\r\n"
                + messageText().replacingOccurrences(of: "\":", with: "\" \n:\t ")
                .replacingOccurrences(of: ",\"", with: "\r\n, \"") + "\n\n ").utf8)),
    GoodCase(
        "keys in another order",
        Array(
            #"{"product_category":"electronics","customer_id":"cust_12345","timestamp":"2024-01-15T10:30:00Z","currency":"USD","amount":150.99,"order_id":"5f0c6a4e-3d2b-4c1a-9e8f-7a6b5c4d3e2f"}"#
                .utf8)),
    GoodCase(
        "escaped key and value",
        message(["customer_id": #""\u0063ust_12345""#]).replacing(
            Array(#""order_id""#.utf8), with: Array(#""\u006frder_id""#.utf8))),
    GoodCase("upper-case order_id", message(["order_id": #""5F0C6A4E-3D2B-4C1A-9E8F-7A6B5C4D3E2F""#])),
    GoodCase("nil UUID (any version accepted)", message(["order_id": #""00000000-0000-0000-0000-000000000000""#])) {
        $0.orderID = UUID(uuidString: "00000000-0000-0000-0000-000000000000")!
    },
    GoodCase("escaped currency", message(["currency": #""U\u0053D""#])),
    GoodCase("currency JPY", message(["currency": #""JPY""#])) { $0.currency = "JPY" },
    GoodCase("currency ZWG (added 2024)", message(["currency": #""ZWG""#])) { $0.currency = "ZWG" },
    GoodCase("simple escapes", message(["product_category": #""home\/garden \"deluxe\"\\""#])) {
        $0.productCategory = "home/garden \"deluxe\"\\"
    },
    GoodCase("non-ASCII text, raw and escaped", message(["customer_id": #""Zoë-\u00e9-😀-\ud83d\ude00""#])) {
        $0.customerID = "Zoë-é-😀-😀"
    },
    GoodCase("50 two-byte characters", message(["customer_id": "\"" + String(repeating: "é", count: 50) + "\""])) {
        $0.customerID = String(repeating: "é", count: 50)
    },
    GoodCase("50 four-byte characters", message(["customer_id": "\"" + String(repeating: "😀", count: 50) + "\""])) {
        $0.customerID = String(repeating: "😀", count: 50)
    },
    GoodCase("50 ASCII characters", message(["product_category": "\"" + String(repeating: "x", count: 50) + "\""])) {
        $0.productCategory = String(repeating: "x", count: 50)
    },
    GoodCase(
        "exactly messageBytesMax bytes",
        message() + [UInt8](repeating: UInt8(ascii: " "), count: MessageLimits.messageBytesMax - message().count)),
    amountCase("0.01", 1),
    amountCase("0.1", 10),
    amountCase("1", 100),
    amountCase("10", 1_000),
    amountCase("150.9", 15_090),
    amountCase("999.99", 99_999),
    amountCase("1000.00", 100_000),
    amountCase("1000.0", 100_000),
    amountCase("9999999999.99", 999_999_999_999),
    amountCase("9999999999", 999_999_999_900),
    timestampCase("2024-01-15T10:30:00z", referenceMicroseconds),
    timestampCase("2024-01-15t10:30:00Z", referenceMicroseconds),
    timestampCase("2024-01-15T16:00:00+05:30", referenceMicroseconds, offset: 330),
    timestampCase("2024-01-15T02:30:00-08:00", referenceMicroseconds, offset: -480),
    timestampCase("2024-01-15T10:30:00-00:00", referenceMicroseconds),
    timestampCase("2024-01-15T10:30:00+00:00", referenceMicroseconds),
    timestampCase("2024-01-15T10:30:00.1Z", 1_705_314_600_100_000),
    timestampCase("2024-01-15T10:30:00.12Z", 1_705_314_600_120_000),
    timestampCase("2024-01-15T10:30:00.123Z", 1_705_314_600_123_000),
    timestampCase("2024-01-15T10:30:00.1234Z", 1_705_314_600_123_400),
    timestampCase("2024-01-15T10:30:00.12345Z", 1_705_314_600_123_450),
    timestampCase("2024-01-15T10:30:00.123456Z", 1_705_314_600_123_456),
    timestampCase("2024-01-15T10:30:00.000000Z", referenceMicroseconds),
    timestampCase("2024-02-29T23:59:59Z", 1_709_251_199_000_000),
    timestampCase("2024-03-01T00:00:00Z", 1_709_251_200_000_000),
    timestampCase("2000-02-29T12:00:00Z", 951_825_600_000_000),
    timestampCase("1900-03-01T00:00:00Z", -2_203_891_200_000_000),
    timestampCase("1970-01-01T00:00:00Z", 0),
    timestampCase("1969-12-31T23:59:59.999999Z", -1),
    timestampCase("0001-01-01T00:00:00Z", -62_135_596_800_000_000),
    timestampCase("0001-01-01T23:59:00+23:59", -62_135_596_800_000_000, offset: 1439),
    timestampCase("9999-12-31T00:00:00-23:59", 253_402_300_740_000_000, offset: -1439),
    timestampCase("9999-12-31T23:59:59.999999Z", 253_402_300_799_999_999),
    timestampCase("2024-01-01T00:30:00+23:59", 1_703_982_660_000_000, offset: 1439),
    timestampCase("2024-12-31T23:30:00-23:59", 1_735_774_140_000_000, offset: -1439),
    timestampCase("2021-06-30T18:15:07.5-04:00", 1_625_091_307_500_000, offset: -240),
]

// MARK: - Bad messages

extension MessageValidatorTests {
    struct BadCase: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]?
        var reason: RejectReason
        var field: String

        var testDescription: String { "\(name) → \(reason) \(field)" }

        init(_ name: String, _ bytes: [UInt8]?, _ reason: RejectReason, field: String = "") {
            (self.name, self.bytes, self.reason, self.field) = (name, bytes, reason, field)
        }

        init(_ name: String, _ text: String, _ reason: RejectReason, field: String = "") {
            self.init(name, Array(text.utf8), reason, field: field)
        }
    }
}

private typealias BadCase = MessageValidatorTests.BadCase

private func badValue(_ key: String, _ rawValue: String, _ reason: RejectReason) -> BadCase {
    BadCase("\(key) \(rawValue)", message([key: rawValue]), reason, field: key)
}

private func badTimestamp(_ text: String, _ reason: RejectReason = .invalidTimestamp) -> BadCase {
    badValue("timestamp", "\"\(text)\"", reason)
}

private let deeplyNestedArrays =
    [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
    + [UInt8](repeating: UInt8(ascii: "]"), count: 100_000)

private func nestedArrays(depth: Int) -> String {
    String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
}

private let sizeAndEncodingCases: [BadCase] = [
    BadCase("null value", nil as [UInt8]?, .valueNull),
    BadCase("empty value", [UInt8](), .valueEmpty),
    BadCase("2 MiB of JSON", message() + [UInt8](repeating: 0x20, count: 2 << 20), .messageTooLarge),
    BadCase("one byte too many", [UInt8](repeating: 0x20, count: MessageLimits.messageBytesMax + 1), .messageTooLarge),
    BadCase(
        "too large and not UTF-8: size wins", [UInt8](repeating: 0xFF, count: MessageLimits.messageBytesMax + 1),
        .messageTooLarge),
    BadCase("byte FF", messageWithCustomerIDBytes([0xFF]), .invalidUTF8),
    BadCase("stray continuation byte", messageWithCustomerIDBytes([0x61, 0x80]), .invalidUTF8),
    BadCase("overlong two-byte slash C0 AF", messageWithCustomerIDBytes([0xC0, 0xAF]), .invalidUTF8),
    BadCase("overlong C1 BF", messageWithCustomerIDBytes([0xC1, 0xBF]), .invalidUTF8),
    BadCase("overlong three-byte E0 80 AF", messageWithCustomerIDBytes([0xE0, 0x80, 0xAF]), .invalidUTF8),
    BadCase("overlong four-byte F0 80 80 AF", messageWithCustomerIDBytes([0xF0, 0x80, 0x80, 0xAF]), .invalidUTF8),
    BadCase("UTF-8 encoded surrogate ED A0 80", messageWithCustomerIDBytes([0xED, 0xA0, 0x80]), .invalidUTF8),
    BadCase("UTF-8 encoded surrogate ED BF BF", messageWithCustomerIDBytes([0xED, 0xBF, 0xBF]), .invalidUTF8),
    BadCase("above U+10FFFF F4 90 80 80", messageWithCustomerIDBytes([0xF4, 0x90, 0x80, 0x80]), .invalidUTF8),
    BadCase("lead byte F5", messageWithCustomerIDBytes([0xF5, 0x80, 0x80, 0x80]), .invalidUTF8),
    BadCase("truncated three-byte sequence", messageWithCustomerIDBytes([0xE2, 0x82]), .invalidUTF8),
    BadCase("truncated at the very end", message() + [0xE2, 0x82], .invalidUTF8),
    BadCase("lone lead byte at the end", [UInt8(ascii: "{"), 0xC3], .invalidUTF8),
    BadCase("Latin-1 é", messageWithCustomerIDBytes([0xE9]), .invalidUTF8),
    BadCase("bad UTF-8 and bad JSON: UTF-8 wins", [UInt8](#"{"a":,,"#.utf8) + [0xFF], .invalidUTF8),
]

private let syntaxCases: [BadCase] = [
    BadCase("only whitespace", " \n\t ", .invalidJSON),
    BadCase("trailing comma in the object", String(messageText().dropLast()) + ",}", .invalidJSON),
    BadCase("trailing comma in an array", messageText(appending: #""x":[1,2,]"#), .invalidJSON),
    BadCase("trailing garbage", messageText() + "x", .invalidJSON),
    BadCase("two objects", messageText() + messageText(), .invalidJSON),
    BadCase("unterminated object", String(messageText().dropLast()), .invalidJSON),
    BadCase("unterminated string", #"{"order_id":"5f0c"#, .invalidJSON),
    BadCase("single-quoted key", messageText().replacingOccurrences(of: #""amount""#, with: "'amount'"), .invalidJSON),
    BadCase("single-quoted value", messageText(["currency": "'USD'"]), .invalidJSON),
    BadCase("unquoted key", messageText().replacingOccurrences(of: #""amount""#, with: "amount"), .invalidJSON),
    BadCase(
        "missing colon", messageText().replacingOccurrences(of: #""amount":"#, with: #""amount" "#),
        .invalidJSON),
    BadCase(
        "missing comma", messageText().replacingOccurrences(of: #","currency""#, with: #" "currency""#),
        .invalidJSON),
    BadCase("raw tab in a string", messageText(["customer_id": "\"cust\t1\""]), .invalidJSON),
    BadCase("raw newline in a string", messageText(["customer_id": "\"cust\n1\""]), .invalidJSON),
    BadCase("raw NUL in a string", messageWithCustomerIDBytes([0x00]), .invalidJSON),
    BadCase(
        "escaped NUL in customer_id", message(["customer_id": #""a\u0000b""#]), .controlCharacter, field: "customer_id"),
    BadCase(
        "escaped control characters", message(["product_category": #""a\b\f\n\r\t""#]), .controlCharacter,
        field: "product_category"),
    BadCase(
        "escaped tab in product_category", message(["product_category": #""a\tb""#]), .controlCharacter,
        field: "product_category"),
    BadCase("DEL in customer_id", message(["customer_id": #""a\u007fb""#]), .controlCharacter, field: "customer_id"),
    BadCase("raw DEL is fine but unknown escape is not", messageText(["customer_id": #""a\x41""#]), .invalidJSON),
    BadCase("escaped single quote", messageText(["customer_id": #""a\'b""#]), .invalidJSON),
    BadCase("short \\u escape", messageText(["customer_id": #""\u41""#]), .invalidJSON),
    BadCase("non-hex \\u escape", messageText(["customer_id": #""\u00G1""#]), .invalidJSON),
    BadCase("lone high surrogate", messageText(["customer_id": #""\ud83d""#]), .invalidJSON),
    BadCase("lone high surrogate at the end of the string", messageText(["customer_id": #""ab\ud83d""#]), .invalidJSON),
    BadCase("lone low surrogate", messageText(["customer_id": #""\ude00x""#]), .invalidJSON),
    BadCase("high surrogate then a letter", messageText(["customer_id": #""\ud83d\u0041""#]), .invalidJSON),
    BadCase("two high surrogates", messageText(["customer_id": #""\ud83d\ud83d""#]), .invalidJSON),
    BadCase("lone surrogate in a key", messageText(appending: #""\udc00":1"#), .invalidJSON),
    BadCase("NaN", messageText(["amount": "NaN"]), .invalidJSON),
    BadCase("Infinity", messageText(["amount": "Infinity"]), .invalidJSON),
    BadCase("-Infinity", messageText(["amount": "-Infinity"]), .invalidJSON),
    BadCase("leading zero", messageText(["amount": "0150.99"]), .invalidJSON),
    BadCase("leading zero of a negative", messageText(["amount": "-01"]), .invalidJSON),
    BadCase("bare point fraction", messageText(["amount": ".5"]), .invalidJSON),
    BadCase("point without digits", messageText(["amount": "1."]), .invalidJSON),
    BadCase("lone minus", messageText(["amount": "-"]), .invalidJSON),
    BadCase("plus sign", messageText(["amount": "+1"]), .invalidJSON),
    BadCase("hexadecimal number", messageText(["amount": "0x10"]), .invalidJSON),
    BadCase("exponent without digits", messageText(["amount": "1e"]), .invalidJSON),
    BadCase("capitalised literal", messageText(appending: #""x":True"#), .invalidJSON),
    BadCase("truncated literal", messageText(appending: #""x":nul"#), .invalidJSON),
    BadCase("comment", messageText() + "// a comment", .invalidJSON),
    BadCase("UTF-8 byte order mark", [0xEF, 0xBB, 0xBF] + message(), .invalidJSON),
    BadCase("form feed is not JSON whitespace", "\u{C}" + messageText(), .invalidJSON),
    BadCase("no-break space is not JSON whitespace", "\u{A0}" + messageText(), .invalidJSON),
    BadCase("100 000 nested arrays", deeplyNestedArrays, .invalidJSON),
    BadCase("100 000 opening brackets", [UInt8](repeating: UInt8(ascii: "["), count: 100_000), .invalidJSON),
    BadCase("100 000 nested objects", String(repeating: #"{"a":"#, count: 100_000), .invalidJSON),
    BadCase("65 nested arrays", nestedArrays(depth: StrictJSONScanner.nestingLevelsMax + 1), .invalidJSON),
    BadCase("depth 65 inside the message", messageText(appending: "\"x\":" + nestedArrays(depth: 64)), .invalidJSON),
    BadCase("mismatched brackets", messageText(appending: #""x":[1}"#), .invalidJSON),
    BadCase("object closed by a bracket", String(messageText().dropLast()) + "]", .invalidJSON),
    BadCase(
        "number with 1000 digits then garbage", messageText(["amount": String(repeating: "9", count: 1000) + "x"]),
        .invalidJSON),
]

private let structureCases: [BadCase] =
    [
        BadCase("array", "[]", .notAnObject),
        BadCase("string", #""hello""#, .notAnObject),
        BadCase("number", " 42 ", .notAnObject),
        BadCase("null literal", "null", .notAnObject),
        BadCase("true literal", "true", .notAnObject),
        BadCase("transaction inside an array", "[" + messageText() + "]", .notAnObject),
        BadCase(
            "64 nested arrays are well-formed", nestedArrays(depth: StrictJSONScanner.nestingLevelsMax), .notAnObject),
        BadCase("amount twice", messageText(appending: #""amount":1"#), .duplicateKey, field: "amount"),
        BadCase(
            "duplicate through an escape", messageText(appending: #""\u0061mount":1"#), .duplicateKey, field: "amount"),
        BadCase("unknown key twice", messageText(appending: #""x":1,"x":2"#), .duplicateKey, field: "x"),
        BadCase(
            "duplicate wins over an earlier unknown", messageText(appending: #""y":1,"currency":"EUR""#),
            .duplicateKey, field: "currency"),
        BadCase(
            "first duplicate in document order", messageText(appending: #""timestamp":1,"amount":2"#),
            .duplicateKey, field: "timestamp"),
        BadCase("unknown field", messageText(appending: #""note":"gift""#), .unknownField, field: "note"),
        BadCase("key differing in case", messageText(appending: #""Amount":1"#), .unknownField, field: "Amount"),
        BadCase("escaped unknown key", messageText(appending: #""n\u00f6te":1"#), .unknownField, field: "nöte"),
        BadCase("unknown key with NUL", messageText(appending: #""a\u0000b":1"#), .unknownField, field: "a\u{FFFD}b"),
        BadCase(
            "very long unknown key is cut", messageText(appending: "\"" + String(repeating: "k", count: 5000) + "\":1"),
            .unknownField, field: String(repeating: "k", count: 255)),
        BadCase(
            "long key cut at a character boundary",
            messageText(appending: "\"k" + String(repeating: "é", count: 300) + "\":1"),
            .unknownField, field: "k" + String(repeating: "é", count: 127)),
        // Issue 11's poison keys: the field once kept 256 bytes, which the codec cut to 255 mid-character.
        BadCase(
            "key of 200 é is cut to 254 bytes",
            messageText(appending: "\"" + String(repeating: "é", count: 200) + "\":1"),
            .unknownField, field: String(repeating: "é", count: 127)),
        BadCase(
            "key of 64 emoji is cut to 252 bytes",
            messageText(appending: "\"" + String(repeating: "😀", count: 64) + "\":1"),
            .unknownField, field: String(repeating: "😀", count: 63)),
        BadCase(
            "depth 64 is well-formed", messageText(appending: "\"x\":" + nestedArrays(depth: 63)), .unknownField,
            field: "x"),
        BadCase("first unknown in document order", messageText(appending: #""b":1,"a":2"#), .unknownField, field: "b"),
        BadCase(
            "unknown wins over missing", messageText(omitting: ["amount"], appending: #""amt":1"#), .unknownField,
            field: "amt"),
        BadCase("empty object", "{}", .missingField, field: "order_id"),
        BadCase("empty object with whitespace", " { \n } ", .missingField, field: "order_id"),
        BadCase(
            "first missing in schema order", messageText(omitting: ["product_category", "currency"]), .missingField,
            field: "currency"),
    ] + schemaKeys.map { key in BadCase("missing \(key)", messageText(omitting: [key]), .missingField, field: key) }

private let typeCases: [BadCase] = [
    badValue("order_id", "12345", .wrongType),
    badValue("order_id", "null", .wrongType),
    badValue("amount", #""150.99""#, .wrongType),
    badValue("amount", "null", .wrongType),
    badValue("amount", "true", .wrongType),
    badValue("amount", "[150.99]", .wrongType),
    badValue("currency", "null", .wrongType),
    badValue("currency", "840", .wrongType),
    badValue("timestamp", "1705314600", .wrongType),
    badValue("customer_id", "12345", .wrongType),
    badValue("customer_id", #"["cust"]"#, .wrongType),
    badValue("product_category", #"{"name":"electronics"}"#, .wrongType),
    badValue("product_category", "false", .wrongType),
    BadCase(
        "type checks precede value checks", message(["order_id": #""nope""#, "product_category": "1"]),
        .wrongType, field: "product_category"),
    BadCase(
        "missing precedes wrong type", message(["amount": "null"], omitting: ["customer_id"]), .missingField,
        field: "customer_id"),
]

private let orderIDCases: [BadCase] = [
    #""""#, #""5f0c6a4e3d2b4c1a9e8f7a6b5c4d3e2f""#, #""{5f0c6a4e-3d2b-4c1a-9e8f-7a6b5c4d3e2f}""#,
    #""urn:uuid:5f0c6a4e-3d2b-4c1a-9e8f-7a6b5c4d3e2f""#, #""5f0c6a4e-3d2b-4c1a-9e8f-7a6b5c4d3e2""#,
    #""5f0c6a4e-3d2b-4c1a-9e8f-7a6b5c4d3e2f0""#, #""5f0c6a4e-3d2b-4c1a-9e8f-7a6b5c4d3e2g""#,
    #""5f0c6a4e3-d2b-4c1a-9e8f-7a6b5c4d3e2f""#, #""5f0c6a4e-3d2b-4c1a-9e8f+7a6b5c4d3e2f""#,
    #"" 5f0c6a4e-3d2b-4c1a-9e8f-7a6b5c4d3e2f""#, #""5f0c6a4e-3d2b-4c1a-9e8f-7a6b5c4d3e2f ""#,
    #""5f0c6a4e-3d2b-4c1a-9e8f-7a6b5c4d3é""#, #""order-1234""#,
].map { badValue("order_id", $0, .invalidOrderID) }

private let amountCases: [BadCase] =
    ["1e3", "1E2", "1.5e2", "1e-2", "1.0E+2", "0e0", "-1e3", "1" + String(repeating: "0", count: 500) + "e-500"].map {
        badValue("amount", $0, .invalidAmount)
    }
    + ["0", "-0", "0.0", "0.00", "-0.00", "-1", "-150.99", "-0.01", "-" + String(repeating: "9", count: 30)].map {
        badValue("amount", $0, .amountNotPositive)
    }
    + ["1.001", "150.999", "0.001", "1.000", "1.500", "0.000", "-1.234", "1." + String(repeating: "0", count: 1000)]
    .map { badValue("amount", $0, .amountTooPrecise) }
    + [
        "10000000000", "10000000000.00", "99999999999.99", String(repeating: "9", count: 1000),
        "1" + String(repeating: "0", count: 400) + ".5",
    ].map { badValue("amount", $0, .amountTooLarge) }

private let currencyCases: [BadCase] = [
    "usd", "Usd", "US", "USDD", "", "DEM", "FRF", "HRK", "SLL", "ZWL", "VEF", "BYR", "LTL", "ABC", "XCG", "€", "US ",
    "U$D",
].map { badValue("currency", "\"\($0)\"", .unknownCurrency) }

private let timestampCases: [BadCase] = [
    badTimestamp("2023-02-29T10:30:00Z"), badTimestamp("1900-02-29T10:30:00Z"), badTimestamp("2024-02-30T10:30:00Z"),
    badTimestamp("2024-04-31T10:30:00Z"), badTimestamp("2024-13-01T10:30:00Z"), badTimestamp("2024-00-10T10:30:00Z"),
    badTimestamp("2024-01-00T10:30:00Z"), badTimestamp("2024-01-32T10:30:00Z"), badTimestamp("2024-01-15T24:00:00Z"),
    badTimestamp("2024-01-15T10:60:00Z"), badTimestamp("2024-01-15T10:30:60Z"), badTimestamp("2016-12-31T23:59:60Z"),
    badTimestamp("2024-01-15T10:30:00+24:00"), badTimestamp("2024-01-15T10:30:00+05:60"),
    badTimestamp("0000-01-01T00:00:00Z"), badTimestamp("2024-01-15T10:30:00.1234567Z"),
    badTimestamp("2024-01-15T10:30:00.Z"), badTimestamp("2024-01-15 10:30:00Z"), badTimestamp("2024-01-15"),
    badTimestamp("2024-01-15T10:30:00+0530"), badTimestamp("2024-01-15T10:30:00+05"),
    badTimestamp("2024-1-15T10:30:00Z"),
    badTimestamp("2024-01-15T10:30:00ZZ"), badTimestamp("2024-01-15T10:30:00Z "), badTimestamp("2024-01-15T10:30Z"),
    badTimestamp(""), badTimestamp("yesterday"), badTimestamp("２０２４-01-15T10:30:00Z"), badTimestamp("1705314600"),
    badTimestamp("2024-01-15T10:30:00UTC"), badTimestamp("2024-01-15T10:30:00 Z"),
    badTimestamp("+2024-01-15T10:30:00Z"),
    badTimestamp("2023-02-29T10:30:00"),  // Impossible and without zone: impossible wins.
    badTimestamp("2024-01-15T10:30:00", .timestampWithoutZone),
    badTimestamp("2024-01-15t10:30:00.123456", .timestampWithoutZone),
    // Valid date-times whose UTC instant is year 0 or year 10000 (issue 11): the warehouse would refuse them.
    badTimestamp("0001-01-01T00:00:00+00:01", .timestampOutOfRange),
    badTimestamp("9999-12-31T23:59:59-00:01", .timestampOutOfRange),
    badTimestamp("0001-01-01T05:00:00+23:59", .timestampOutOfRange),
    badTimestamp("9999-12-31T23:59:59.999999-23:59", .timestampOutOfRange),
]

private let textCases: [BadCase] = [
    badValue("customer_id", #""""#, .emptyField),
    badValue("product_category", #""""#, .emptyField),
    badValue("customer_id", "\"" + String(repeating: "x", count: 51) + "\"", .fieldTooLong),
    badValue("product_category", "\"" + String(repeating: "é", count: 51) + "\"", .fieldTooLong),
    badValue("customer_id", "\"" + String(repeating: #"\u0041"#, count: 51) + "\"", .fieldTooLong),
    badValue("customer_id", "\"" + String(repeating: "x", count: 5000) + "\"", .fieldTooLong),
]

/// When several field values are wrong, the first in schema order is reported.
private let valueOrderCases: [BadCase] = [
    BadCase(
        "order_id before amount", message(["order_id": #""x""#, "amount": "0"]), .invalidOrderID,
        field: "order_id"),
    BadCase(
        "amount before currency", message(["amount": "1e2", "currency": #""usd""#]), .invalidAmount,
        field: "amount"),
    BadCase(
        "currency before timestamp", message(["currency": #""usd""#, "timestamp": #""x""#]), .unknownCurrency,
        field: "currency"),
    BadCase(
        "timestamp before customer_id", message(["timestamp": #""x""#, "customer_id": #""""#]),
        .invalidTimestamp, field: "timestamp"),
    BadCase(
        "customer_id before product_category", message(["customer_id": #""""#, "product_category": #""""#]),
        .emptyField, field: "customer_id"),
]

private let badCases =
    sizeAndEncodingCases + syntaxCases + structureCases + typeCases + orderIDCases + amountCases + currencyCases
    + timestampCases + textCases + valueOrderCases

// MARK: - Robustness

private typealias SeededGenerator = SplitMix64

/// One random change: flip a bit, overwrite, delete or insert a byte, truncate, or repeat a slice.
private func mutate(_ bytes: inout [UInt8], using generator: inout SeededGenerator) {
    guard !bytes.isEmpty else {
        bytes.append(UInt8.random(in: 0...255, using: &generator))
        return
    }
    let index = Int.random(in: 0..<bytes.count, using: &generator)
    switch Int.random(in: 0..<6, using: &generator) {
    case 0: bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
    case 1: bytes[index] = UInt8.random(in: 0...255, using: &generator)
    case 2: bytes.remove(at: index)
    case 3: bytes.insert(Array(#"{}[]",:\.-eE0u"#.utf8).randomElement(using: &generator)!, at: index)
    case 4: bytes.removeSubrange(index...)
    default:
        let end = Int.random(in: index...bytes.count, using: &generator)
        bytes.insert(contentsOf: bytes[index..<end], at: index)
    }
}

/// The strict message validator: good and bad messages, robustness, and its parts.
@Suite struct MessageValidatorTests {
    @Test("good messages are accepted with exact values", arguments: goodCases)
    func acceptsGoodMessage(_ good: GoodCase) throws {
        let transaction = try MessageValidator.validate(good.bytes).get()
        #expect(transaction.orderID == good.orderID)
        #expect(transaction.amount == Cents(rawValue: good.cents))
        #expect(transaction.currency == CurrencyCode(unchecked: good.currency))
        #expect(transaction.timestamp.microsecondsSinceEpoch == good.microseconds)
        #expect(transaction.timestamp.originalOffsetMinutes == good.offsetMinutes)
        #expect(transaction.customerID == good.customerID)
        #expect(transaction.productCategory == good.productCategory)
    }

    /// Issue 13: a producer that adds a field need not turn the stream into dead letters.
    @Test("with unknown fields ignored, an extra member is dropped and nothing else changes")
    func unknownFieldsIgnored() {
        let plain = MessageValidator.validate(Array(messageText().utf8))
        for extra in [#""payment_method":"card""#, #""meta":{"a":[1,2,{"b":null}]}"#, #""n":1e3,"m":true"#] {
            let bytes = Array(messageText(appending: extra).utf8)
            #expect(
                MessageValidator.validate(bytes)
                    == .failure(Rejection(.unknownField, field: String(extra.dropFirst().prefix { $0 != "\"" }))))
            #expect(MessageValidator.validate(bytes, unknownFields: .ignore) == plain, "\(extra)")
        }
        let twice = Array(messageText(appending: #""x":1,"x":2"#).utf8)
        #expect(
            MessageValidator.validate(twice, unknownFields: .ignore) == .failure(Rejection(.duplicateKey, field: "x")))
        let missing = Array(messageText(omitting: ["currency"], appending: #""x":1"#).utf8)
        #expect(
            MessageValidator.validate(missing, unknownFields: .ignore)
                == .failure(Rejection(.missingField, field: "currency")))
        let broken = Array((messageText(appending: #""x":[1,"#).dropLast()).utf8)
        #expect(MessageValidator.validate(broken, unknownFields: .ignore) == .failure(Rejection(.invalidJSON)))
    }

    @Test("with unknown fields kept, the extra members are kept as the message wrote them")
    func unknownFieldsKept() throws {
        let extra = #""payment_method":"ca\u0072d","meta":{"a":[1,2.5e1,null,true]},"n":-0.5"#
        let kept = try MessageValidator.validate(Array(messageText(appending: extra).utf8), unknownFields: .keep).get()
        #expect(kept.extraMembers == "{" + extra + "}")
        var plain = kept
        plain.extraMembers = nil
        #expect(.success(plain) == MessageValidator.validate(Array(messageText().utf8)))
        #expect(
            try MessageValidator.validate(Array(messageText().utf8), unknownFields: .keep).get().extraMembers == nil)
        // What the warehouse's jsonb could not hold, or more than is kept, is refused rather than cut.
        for refused in [
            #""nul":"a\u0000b""#, #""big":"\#(String(repeating: "x", count: MessageLimits.extraMembersBytesMax))""#,
        ] {
            let result = MessageValidator.validate(Array(messageText(appending: refused).utf8), unknownFields: .keep)
            #expect(
                result == .failure(Rejection(.unknownField, field: String(refused.dropFirst().prefix { $0 != "\"" }))))
        }
        #expect(
            try MessageValidator.validate(Array(messageText(appending: #""s":"\\u0000""#).utf8), unknownFields: .keep)
                .get().extraMembers != nil)
    }

    @Test("the buffer and array entry points agree")
    func bufferAndArrayAgree() {
        let bytes = message()
        let fromBuffer = bytes.withUnsafeBytes { MessageValidator.validate($0) }
        #expect(fromBuffer == MessageValidator.validate(bytes))
        #expect(MessageValidator.validate(nil as UnsafeRawBufferPointer?) == .failure(Rejection(.valueNull)))
    }

    @Test("bad messages are rejected with the right reason and field", arguments: badCases)
    func rejectsBadMessage(_ bad: BadCase) {
        #expect(MessageValidator.validate(bad.bytes) == .failure(Rejection(bad.reason, field: bad.field)))
    }

    @Test("the bad-message table covers every reason the validator can give")
    func badCasesCoverEveryReason() {
        let covered = Set(badCases.map(\.reason))
        let expected = Set(RejectReason.allCases).subtracting([.conflictingDuplicate])
        #expect(covered == expected)
    }

    @Test("a rejection's field is a schema key, empty, or (for key problems) the offending key")
    func rejectionFieldsAreConsistent() {
        for bad in badCases where ![.duplicateKey, .unknownField].contains(bad.reason) {
            let isMessageWide = bad.reason.rawValue <= RejectReason.notAnObject.rawValue
            #expect(isMessageWide ? bad.field.isEmpty : schemaKeys.contains(bad.field), "\(bad.name)")
        }
    }

    @Test("mutated messages never crash and are judged consistently")
    func mutatedMessagesAreHandled() {
        var generator = SeededGenerator.announced(for: "mutatedMessagesAreHandled")
        let original = Array(
            (messageText(["customer_id": #""c\u00e9\ud83d\ude00""#, "timestamp": #""2024-02-29T16:00:00.5+05:30""#])
                + " ").utf8)
        var acceptedCount = 0
        for iteration in 0..<10_000 {
            var bytes = original
            for _ in 0...Int.random(in: 0..<3, using: &generator) { mutate(&bytes, using: &generator) }
            let result = MessageValidator.validate(bytes)
            #expect(MessageValidator.validate(bytes) == result, "deterministic, iteration \(iteration)")
            // An independent UTF-8 oracle: the standard library's validating initialiser.
            let isUTF8 = String(validating: bytes, as: UTF8.self) != nil
            switch result {
            case .success(let transaction):
                acceptedCount += 1
                #expect(isUTF8)
                #expect(transaction.amount.rawValue > 0 && transaction.amount <= Cents.maximum)
                #expect(ISO4217.isActiveCode(transaction.currency.code))
                #expect(!transaction.customerID.isEmpty && !transaction.productCategory.isEmpty)
            case .failure(let rejection):
                #expect(rejection.reason != .conflictingDuplicate)
                if !bytes.isEmpty { #expect((rejection.reason == .invalidUTF8) == !isUTF8, "iteration \(iteration)") }
            }
        }
        print("mutatedMessagesAreHandled: \(acceptedCount) of 10000 mutants accepted")
    }

    @Test("bytes after the end of the buffer are never read")
    func readsOnlyInsideTheBuffer() {
        // A prefix of a valid message, viewed inside a larger buffer that would complete it: the validator must
        // judge the prefix alone.
        let whole = message()
        for length in 1..<whole.count {
            let verdict = whole.withUnsafeBytes {
                MessageValidator.validate(UnsafeRawBufferPointer(rebasing: $0[..<length]))
            }
            #expect(verdict == .failure(Rejection(.invalidJSON)), "prefix of \(length) bytes")
        }
    }

    @Test("the active currency list is sorted, unique, three upper-case letters, without withdrawn codes")
    func currencyListIsWellFormed() {
        #expect(ISO4217.activeCodes == ISO4217.activeCodes.sorted())
        #expect(Set(ISO4217.activeCodes).count == ISO4217.activeCodes.count)
        #expect(ISO4217.activeCodes.count >= 175 && ISO4217.activeCodes.count <= 185)
        for code in ISO4217.activeCodes {
            #expect(code.utf8.count == 3 && code.utf8.allSatisfy { (65...90).contains($0) }, "\(code)")
            #expect(ISO4217.isActiveCode(code), "\(code)")
        }
        for code in ["USD", "EUR", "GBP", "JPY", "CHF", "CNY", "INR", "BRL", "VES", "VED", "SLE", "ZWG"] {
            #expect(ISO4217.isActiveCode(code), "\(code)")
        }
        for code in [
            "DEM", "FRF", "ITL", "HRK", "SLL", "ZWL", "VEF", "BYR", "MRO", "STD", "LTL", "EEK", "usd", "", "USDX",
            "AAA",
        ] {
            #expect(!ISO4217.isActiveCode(code), "\(code)")
        }
    }

    @Test("unescaping decodes every escape form")
    func unescapesEveryEscape() {
        let escaped = Array(#"a\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00z"#.utf8)
        let decoded = escaped.withUnsafeBytes { JSONEscapes.unescape($0) }
        #expect(String(decoding: decoded, as: UTF8.self) == "a\"\\/\u{8}\u{C}\n\r\tAé€😀z")
    }
}
