import Foundation
import MessageSchema
import PostgresClient

/// A tax rate version (`tax_rates`): the rate in hundred-thousandths (numeric(6,5)), 8.5 % = 8,500.
public struct TaxRate: Sendable, Hashable {
    public var version: Int32
    public var hundredThousandths: Int64

    public init(version: Int32, hundredThousandths: Int64) {
        precondition((0..<100_000).contains(hundredThousandths), "a tax rate is 0 ≤ rate < 1")
        self.version = version
        self.hundredThousandths = hundredThousandths
    }

    /// Version 1: 8.5 %, the original pipeline's.
    public static let original = TaxRate(version: 1, hundredThousandths: 8_500)

    /// tax = amount × rate, rounded half-up to the cent: adding half the divisor before the (truncating)
    /// division rounds a remainder of exactly half up (amounts are positive). At most 999,999,999,999 cents ×
    /// 99,999: far inside Int64.
    public func taxCents(amountCents: Int64) -> Int64 {
        precondition(
            (0...Cents.maximum.rawValue).contains(amountCents), "amount \(amountCents) cents outside NUMERIC(12,2)")
        return (amountCents * hundredThousandths + 50_000) / 100_000
    }
}

/// The versions of the tax rate and of the amount rule, each in force from its effective time: a row gets the
/// versions in force at its transaction time, so the projector and any later rebuild give it the same ones.
public struct RateBook: Sendable, Hashable {
    struct Effective<Value: Sendable & Hashable>: Sendable, Hashable {
        /// Microseconds since the epoch; `Int64.min` for "-infinity" (from the beginning).
        var from: Int64
        var value: Value
    }

    private(set) var taxRates: [Effective<TaxRate>]
    private(set) var amountRules: [Effective<AmountRule>]

    /// The original pipeline's: 8.5 % tax and amount > 1000.00, from the beginning.
    public static let original = RateBook(
        taxRates: [Effective(from: .min, value: .original)], amountRules: [Effective(from: .min, value: .original)])

    init(taxRates: [Effective<TaxRate>], amountRules: [Effective<AmountRule>]) {
        precondition(!taxRates.isEmpty && !amountRules.isEmpty, "a rate book has a version of each from the start")
        self.taxRates = taxRates.sorted { ($0.from, $0.value.version) < ($1.from, $1.value.version) }
        self.amountRules = amountRules.sorted { ($0.from, $0.value.version) < ($1.from, $1.value.version) }
    }

    /// The tax rate in force at `microseconds` (the earliest version when the time precedes them all).
    public func taxRate(at microseconds: Int64) -> TaxRate { Self.inForce(taxRates, at: microseconds) }

    /// The amount rule in force at `microseconds`.
    public func amountRule(at microseconds: Int64) -> AmountRule { Self.inForce(amountRules, at: microseconds) }

    /// The newest amount rule: what the projector reports at start.
    public var newestAmountRule: AmountRule { amountRules.max { $0.value.version < $1.value.version }!.value }

    private static func inForce<Value>(_ versions: [Effective<Value>], at microseconds: Int64) -> Value {
        versions.last { $0.from <= microseconds }?.value ?? versions[0].value
    }
}

extension RateBook {
    /// Reads both tables of `schema`. Versions are few and the query is cheap: the projector reads them before each
    /// batch, so a version inserted while it runs applies from its effective time on.
    static func load(_ connection: PostgresConnection, _ schema: WarehouseSchema) throws -> RateBook {
        let epoch = "extract(epoch FROM effective_from) * 1000000"
        let rates = try connection.query(
            "SELECT version, rate::text AS rate, CASE WHEN effective_from = '-infinity' THEN NULL ELSE (\(epoch))::bigint END AS micros FROM \(schema.taxRates)"
        )
        let rules = try connection.query(
            "SELECT version, amount_threshold::text AS threshold, CASE WHEN effective_from = '-infinity' THEN NULL ELSE (\(epoch))::bigint END AS micros FROM \(schema.fraudRules) WHERE rule = 'amount_above'"
        )
        let taxRates = try (0..<rates.count).map { row in
            guard let version = rates.value(row, "version").flatMap({ Int32($0) }),
                let rate = rates.value(row, "rate").flatMap(Self.hundredThousandths)
            else { throw Self.unreadable(schema, "tax_rates") }
            return Effective(
                from: Self.from(rates.value(row, "micros")), value: TaxRate(version: version, hundredThousandths: rate))
        }
        let amountRules = try (0..<rules.count).map { row in
            guard let version = rules.value(row, "version").flatMap({ Int32($0) }),
                let threshold = rules.value(row, "threshold").flatMap(ProjectionSession.parseCents)
            else { throw Self.unreadable(schema, "fraud_rules") }
            return Effective(
                from: Self.from(rules.value(row, "micros")),
                value: AmountRule(version: version, thresholdCents: threshold))
        }
        guard !taxRates.isEmpty, !amountRules.isEmpty else {
            throw ProjectorError(
                .invalidArgument, "the warehouse needs a tax rate and an amount_above fraud rule",
                [
                    ("warehouse.schema", schema.name), ("tax_rates", "\(taxRates.count)"),
                    ("amount_rules", "\(amountRules.count)"),
                ])
        }
        return RateBook(taxRates: taxRates, amountRules: amountRules)
    }

    private static func from(_ micros: String?) -> Int64 { micros.flatMap { Int64($0) } ?? .min }

    /// "0.08500" → 8,500.
    static func hundredThousandths(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let fraction = parts.count == 2 ? String(parts[1]) : "0"
        guard parts.count <= 2, parts[0] == "0", fraction.count <= 5,
            let value = Int64(fraction.padding(toLength: 5, withPad: "0", startingAt: 0))
        else { return nil }
        return value
    }

    private static func unreadable(_ schema: WarehouseSchema, _ table: String) -> ProjectorError {
        ProjectorError(.invalidArgument, "a version of \(table) cannot be read", [("warehouse.schema", schema.name)])
    }
}
