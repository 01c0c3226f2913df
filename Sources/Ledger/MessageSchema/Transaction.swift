import Foundation

/// An exact amount of money in hundredths of the currency unit, as PostgreSQL's NUMERIC(12,2) holds it.
///
/// Money is never a floating-point number anywhere in Pulse Ledger: JSON text is parsed straight into cents.
public struct Cents: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The largest amount NUMERIC(12,2) can hold: 9 999 999 999.99.
    public static let maximum = Cents(rawValue: 999_999_999_999)

    public var rawValue: Int64

    public init(rawValue: Int64) {
        self.rawValue = rawValue
    }

    public static func < (lhs: Cents, rhs: Cents) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The amount as decimal text with exactly two fraction digits, e.g. "150.99" or "-0.05".
    public var description: String {
        let sign = rawValue < 0 ? "-" : ""
        let magnitude = rawValue.magnitude
        let fraction = magnitude % 100
        return "\(sign)\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

/// An ISO 4217 alphabetic currency code, three upper-case ASCII letters (validated against the active list).
public struct CurrencyCode: Sendable, Hashable, CustomStringConvertible {
    public let code: String

    public init(unchecked code: String) {
        precondition(code.utf8.count == 3, "a currency code has three letters")
        self.code = code
    }

    public var description: String { code }
}

/// A point in time normalised to UTC with microsecond resolution (what PostgreSQL's TIMESTAMPTZ keeps), plus
/// the UTC offset the producer wrote, so that the original text can be explained.
public struct UTCTimestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var microsecondsSinceEpoch: Int64
    /// The offset from UTC, in minutes, that the message carried ("+05:30" is 330). Not part of the instant.
    public var originalOffsetMinutes: Int16

    public init(microsecondsSinceEpoch: Int64, originalOffsetMinutes: Int16 = 0) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
        self.originalOffsetMinutes = originalOffsetMinutes
    }

    public static func < (lhs: UTCTimestamp, rhs: UTCTimestamp) -> Bool {
        lhs.microsecondsSinceEpoch < rhs.microsecondsSinceEpoch
    }

    /// RFC 3339 text in UTC with microseconds, e.g. "2024-01-15T10:30:00.000000Z".
    public var description: String { RFC3339.format(microsecondsSinceEpoch: microsecondsSinceEpoch) }
}

/// A validated transaction message: the fields of the original producer's schema, exact and normalised.
public struct Transaction: Sendable, Hashable {
    public var orderID: UUID
    public var amount: Cents
    public var currency: CurrencyCode
    public var timestamp: UTCTimestamp
    public var customerID: String
    public var productCategory: String
    /// The message's members outside the schema, as one JSON object's text (`{"payment_method":"card"}`), kept
    /// with `--unknown-fields keep`; nil when there were none or they were not kept. Not part of the order's
    /// content: two messages that differ only here are duplicates, not a conflict.
    public var extraMembers: String?

    public init(
        orderID: UUID, amount: Cents, currency: CurrencyCode, timestamp: UTCTimestamp, customerID: String,
        productCategory: String, extraMembers: String? = nil
    ) {
        self.orderID = orderID
        self.amount = amount
        self.currency = currency
        self.timestamp = timestamp
        self.customerID = customerID
        self.productCategory = productCategory
        self.extraMembers = extraMembers
    }

    /// Whether two messages for the same order say the same thing. The offset the producer wrote the time in
    /// does not matter: "10:00Z" and "12:00+02:00" are the same instant, so the same content.
    public func hasSameContent(as other: Transaction) -> Bool {
        orderID == other.orderID && amount == other.amount && currency == other.currency
            && timestamp.microsecondsSinceEpoch == other.timestamp.microsecondsSinceEpoch
            && customerID == other.customerID && productCategory == other.productCategory
    }
}
