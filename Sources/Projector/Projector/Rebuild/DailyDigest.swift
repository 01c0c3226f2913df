import Foundation
import Ledger
import MessageSchema
import OperatingErrors
import PostgresClient

/// The warehouse's digest for one UTC day: what invariant 5 ("rebuild equals incremental") and
/// `rebuild warehouse --verify` compare. processed_at is not part of it (the only column a replay changes).
public struct DayDigest: Hashable, Sendable, CustomStringConvertible {
    public var transactions: Int64 = 0
    public var amountCents: Int64 = 0
    public var taxCents: Int64 = 0
    public var totalCents: Int64 = 0
    public var flagged: Int64 = 0

    public init() {}

    public var description: String {
        "count \(transactions), amount \(Cents(rawValue: amountCents)), tax \(Cents(rawValue: taxCents)), total \(Cents(rawValue: totalCents)), flagged \(flagged)"
    }
}

/// Per-day digests, keyed by UTC day.
public typealias DailyDigests = [UTCCalendar.Day: DayDigest]

/// Computes the digest the ledger says the warehouse must have, straight from accepted transactions.
///
/// Deliberately not the projector's code path: tax is computed as (2 × amount × rate + 1) / 2 in units of the
/// rate's scale (half-up by doubling), not as the projector's (amount × rate + half) / scale, so a slip in either
/// shows up as a difference. The rate and the threshold are the versions in force at each transaction's time, as
/// the projector applies them.
struct LedgerDigestAccumulator {
    private(set) var days: DailyDigests = [:]
    let rates: RateBook

    mutating func add(_ transaction: Transaction) throws {
        try apply(
            amountCents: transaction.amount.rawValue, microseconds: transaction.timestamp.microsecondsSinceEpoch,
            sign: 1)
    }

    /// Takes back a transaction the warehouse did not keep because another ledger's copy came first.
    mutating func remove(amountCents: Int64, microseconds: Int64) throws {
        try apply(amountCents: amountCents, microseconds: microseconds, sign: -1)
    }

    private mutating func apply(amountCents cents: Int64, microseconds: Int64, sign: Int64) throws {
        let rate = rates.taxRate(at: microseconds).hundredThousandths
        let tax = (2 * cents * rate + 100_000) / 200_000
        let day = UTCCalendar.Day(microsecondsSinceEpoch: microseconds)
        var digest = days[day] ?? DayDigest()
        digest.transactions += sign
        digest.amountCents = try Self.adding(digest.amountCents, sign * cents, day)
        digest.taxCents = try Self.adding(digest.taxCents, sign * tax, day)
        digest.totalCents = try Self.adding(digest.totalCents, sign * (cents + tax), day)
        if cents > rates.amountRule(at: microseconds).thresholdCents { digest.flagged += sign }
        days[day] = digest
    }

    /// A day's sums stay far below Int64's 92 233 720 368 547 758.07 in any real ledger; a ledger that exceeds
    /// it cannot be verified this way, which is an operating error, not a crash.
    private static func adding(_ sum: Int64, _ value: Int64, _ day: UTCCalendar.Day) throws -> Int64 {
        let (result, overflow) = sum.addingReportingOverflow(value)
        guard !overflow else {
            throw ProjectorError(
                .verificationFailed, "a day's sum overflows 64-bit cents; this ledger cannot be verified by digest",
                [("day", "\(day)")])
        }
        return result
    }
}

enum WarehouseDigest {
    /// The digests of what `schema` holds, from its `daily_digest` view.
    static func read(_ connection: PostgresConnection, schema: WarehouseSchema) throws -> DailyDigests {
        let rows = try connection.query(
            "SELECT day::text, transactions, amount::text, tax::text, total::text, flagged FROM \(schema.dailyDigest)")
        var digests: DailyDigests = [:]
        for row in 0..<rows.count {
            guard let day = rows.value(row, "day").flatMap({ UTCCalendar.Day($0) }),
                let count = rows.value(row, "transactions").flatMap({ Int64($0) }),
                let amount = rows.value(row, "amount").flatMap(ProjectionSession.parseCents),
                let tax = rows.value(row, "tax").flatMap(ProjectionSession.parseCents),
                let total = rows.value(row, "total").flatMap(ProjectionSession.parseCents),
                let flagged = rows.value(row, "flagged").flatMap({ Int64($0) })
            else {
                throw ProjectorError(
                    .postgres, "daily_digest returned a row this code cannot read", [("row", "\(rows.values[row])")])
            }
            var digest = DayDigest()
            digest.transactions = count
            digest.amountCents = amount
            digest.taxCents = tax
            digest.totalCents = total
            digest.flagged = flagged
            digests[day] = digest
        }
        return digests
    }

    /// Each day where `found` differs from `expected`, described with both values.
    static func differences(expected: DailyDigests, found: DailyDigests) -> [String] {
        let days = Set(expected.keys).union(found.keys).sorted()
        return days.compactMap { day in
            let wanted = expected[day] ?? DayDigest()
            let got = found[day] ?? DayDigest()
            return wanted == got ? nil : "\(day): ledger says \(wanted); warehouse has \(got)"
        }
    }
}
