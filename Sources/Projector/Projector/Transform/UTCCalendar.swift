import Ledger
import MessageSchema

/// Calendar days in UTC, for partition names, partition bounds and per-day digests. Built on the ledger's
/// `RFC3339` (the same calendar arithmetic the validator uses), never on the machine's time zone or locale.
public enum UTCCalendar {
    public static let microsecondsPerDay: Int64 = 86_400_000_000

    /// A calendar day in UTC, as days since 1970-01-01.
    public struct Day: Hashable, Comparable, Sendable, CustomStringConvertible {
        public let daysSinceEpoch: Int64

        public init(daysSinceEpoch: Int64) { self.daysSinceEpoch = daysSinceEpoch }

        /// The UTC day holding an instant (floor division: instants before 1970 belong to earlier days).
        public init(microsecondsSinceEpoch: Int64) {
            let (quotient, remainder) = microsecondsSinceEpoch.quotientAndRemainder(
                dividingBy: UTCCalendar.microsecondsPerDay)
            daysSinceEpoch = remainder < 0 ? quotient - 1 : quotient
        }

        /// The day a "YYYY-MM-DD" text names, nil when it is not a date of years 1–9999.
        public init?(_ text: some StringProtocol) {
            guard text.count == 10, case .success(let start) = RFC3339.parse(text + "T00:00:00Z") else { return nil }
            self.init(microsecondsSinceEpoch: start.microsecondsSinceEpoch)
        }

        public static func < (lhs: Day, rhs: Day) -> Bool { lhs.daysSinceEpoch < rhs.daysSinceEpoch }

        public var startMicroseconds: Int64 { daysSinceEpoch * UTCCalendar.microsecondsPerDay }
        public var next: Day { Day(daysSinceEpoch: daysSinceEpoch + 1) }

        /// "2024-02-29".
        public var description: String {
            String(RFC3339.format(microsecondsSinceEpoch: startMicroseconds).prefix(while: { $0 != "T" }))
        }

        /// "20240229": the suffix of the day's partition name.
        public var compact: String { description.replacingOccurrences(of: "-", with: "") }
    }
}
