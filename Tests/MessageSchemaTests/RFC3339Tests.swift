import LedgerTesting
import Testing

@testable import MessageSchema

private func parse(_ text: String) -> Result<UTCTimestamp, RejectReason> { RFC3339.parse(text) }

/// (text, its canonical UTC form): format(parse(text)) must give the canonical form.
private let roundTrips: [(String, String)] = [
    ("2024-01-15T10:30:00Z", "2024-01-15T10:30:00.000000Z"),
    ("2024-01-15T10:30:00.000000Z", "2024-01-15T10:30:00.000000Z"),
    ("2024-01-15T16:00:00+05:30", "2024-01-15T10:30:00.000000Z"),
    ("2024-01-15T02:30:00.5-08:00", "2024-01-15T10:30:00.500000Z"),
    ("2024-01-01T00:30:00+01:00", "2023-12-31T23:30:00.000000Z"),
    ("2023-12-31T23:30:00-01:00", "2024-01-01T00:30:00.000000Z"),
    ("2024-02-29T23:59:59.999999z", "2024-02-29T23:59:59.999999Z"),
    ("2000-02-29t12:00:00Z", "2000-02-29T12:00:00.000000Z"),
    ("1969-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z"),
    ("1900-01-01T00:00:00Z", "1900-01-01T00:00:00.000000Z"),
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
    ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
]

/// Instants and their text, computed independently (Python's datetime).
private let knownInstants: [(Int64, String)] = [
    (0, "1970-01-01T00:00:00.000000Z"),
    (1, "1970-01-01T00:00:00.000001Z"),
    (-1, "1969-12-31T23:59:59.999999Z"),
    (-86_400_000_000, "1969-12-31T00:00:00.000000Z"),
    (-86_400_000_001, "1969-12-30T23:59:59.999999Z"),
    (-2_203_891_200_000_000, "1900-03-01T00:00:00.000000Z"),
    (-62_135_596_800_000_000, "0001-01-01T00:00:00.000000Z"),
    (951_825_600_000_000, "2000-02-29T12:00:00.000000Z"),
    (1_705_314_600_123_456, "2024-01-15T10:30:00.123456Z"),
    (1_709_251_199_000_000, "2024-02-29T23:59:59.000000Z"),
    (253_402_300_799_999_999, "9999-12-31T23:59:59.999999Z"),
]

/// RFC 3339 parsing and formatting, and the calendar arithmetic under them.
@Suite struct RFC3339Tests {
    @Test("format(parse(text)) is the canonical UTC text", arguments: roundTrips)
    func roundTrip(_ text: String, _ canonical: String) throws {
        let timestamp = try parse(text).get()
        #expect(RFC3339.format(microsecondsSinceEpoch: timestamp.microsecondsSinceEpoch) == canonical)
        #expect(try parse(canonical).get().microsecondsSinceEpoch == timestamp.microsecondsSinceEpoch)
    }

    @Test("format gives the known text, before and after 1970", arguments: knownInstants)
    func formatsKnownInstant(_ microseconds: Int64, _ text: String) throws {
        #expect(RFC3339.format(microsecondsSinceEpoch: microseconds) == text)
        #expect(try parse(text).get() == UTCTimestamp(microsecondsSinceEpoch: microseconds))
    }

    @Test("format is total: extreme instants do not trap")
    func formatsExtremes() {
        #expect(RFC3339.format(microsecondsSinceEpoch: -62_135_596_800_000_001) == "0000-12-31T23:59:59.999999Z")
        #expect(RFC3339.format(microsecondsSinceEpoch: 253_402_300_800_000_000) == "+10000-01-01T00:00:00.000000Z")
        #expect(RFC3339.format(microsecondsSinceEpoch: .min).hasPrefix("-"))
        #expect(RFC3339.format(microsecondsSinceEpoch: .max).hasPrefix("+"))
    }

    @Test("parse(format(m)) == m for random instants of years 1–9999")
    func randomInstantsRoundTrip() throws {
        var generator = SplitMix64.announced(for: "randomInstantsRoundTrip")
        for _ in 0..<10_000 {
            let microseconds = Int64.random(in: -62_135_596_800_000_000...253_402_300_799_999_999, using: &generator)
            let text = RFC3339.format(microsecondsSinceEpoch: microseconds)
            #expect(try parse(text).get().microsecondsSinceEpoch == microseconds, "\(text)")
        }
    }

    @Test("days since the epoch agree with counting whole years, for every 1 January of years 1–9999")
    func daysAgreeWithYearCounting() {
        // Independent of Hinnant's formula: walk the years from 1970, adding or removing 365 or 366 days.
        var days = 0
        for year in 1970...9999 {
            #expect(RFC3339.daysSinceEpoch(year: year, month: 1, day: 1) == days, "\(year)")
            days += RFC3339.isLeapYear(year) ? 366 : 365
        }
        days = 0
        for year in stride(from: 1969, through: 1, by: -1) {
            days -= RFC3339.isLeapYear(year) ? 366 : 365
            #expect(RFC3339.daysSinceEpoch(year: year, month: 1, day: 1) == days, "\(year)")
        }
    }

    @Test("civilDate inverts daysSinceEpoch on every day of years 1–9999")
    func civilDateInvertsDays() {
        var expectedDays = RFC3339.daysSinceEpoch(year: 1, month: 1, day: 1)
        var mismatches = 0
        for year in 1...9999 {
            for month in 1...12 {
                for day in 1...RFC3339.daysInMonth(month, year: year) {
                    let days = RFC3339.daysSinceEpoch(year: year, month: month, day: day)
                    let date = RFC3339.civilDate(daysSinceEpoch: Int64(days))
                    if days != expectedDays || date != (year, month, day) { mismatches += 1 }
                    expectedDays += 1
                }
            }
        }
        #expect(mismatches == 0)
    }

    @Test("leap years follow the Gregorian rule")
    func leapYears() {
        #expect(RFC3339.isLeapYear(2024) && RFC3339.isLeapYear(2000) && RFC3339.isLeapYear(1600))
        #expect(!RFC3339.isLeapYear(2023) && !RFC3339.isLeapYear(1900) && !RFC3339.isLeapYear(2100))
    }

    @Test("the offset written is kept; -00:00 is 0")
    func keepsOffset() throws {
        #expect(try parse("2024-01-15T16:00:00+05:30").get().originalOffsetMinutes == 330)
        #expect(try parse("2024-01-15T02:30:00-08:00").get().originalOffsetMinutes == -480)
        #expect(try parse("2024-01-15T10:30:00-00:00").get().originalOffsetMinutes == 0)
        #expect(try parse("2024-01-15T10:30:00+23:59").get().originalOffsetMinutes == 1439)
    }

    @Test(
        "malformed or impossible timestamps are refused",
        arguments: [
            ("2023-02-29T00:00:00Z", RejectReason.invalidTimestamp), ("2100-02-29T00:00:00Z", .invalidTimestamp),
            ("2024-06-31T00:00:00Z", .invalidTimestamp), ("2024-01-15T23:59:60Z", .invalidTimestamp),
            ("2024-01-15T10:30:00.1234567Z", .invalidTimestamp), ("2024-01-15T10:30:00-24:00", .invalidTimestamp),
            ("0000-06-15T00:00:00Z", .invalidTimestamp), ("2024-01-15T10:30:00", .timestampWithoutZone),
            ("2024-01-15T10:30:00.5", .timestampWithoutZone), ("2024-01-15T24:00:00", .invalidTimestamp),
        ])
    func refusesBadTimestamps(_ text: String, _ expected: RejectReason) {
        #expect(parse(text) == .failure(expected))
    }

    @Test("the UTCTimestamp description is the formatted text")
    func describesTimestamp() {
        #expect(
            UTCTimestamp(microsecondsSinceEpoch: 1_705_314_600_000_000).description == "2024-01-15T10:30:00.000000Z")
    }
}
