/// Dates in UTC computed from integers (proleptic Gregorian calendar), so partition names, partition bounds
/// and per-day digests never depend on the machine's time zone, locale or Foundation's calendar.
/// Algorithms from Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms" (days_from_civil,
/// civil_from_days), exact for every date in `ProjectorLimits.timestampMicrosecondsRange`.
public enum UTCCalendar {
    public static let microsecondsPerDay: Int64 = 86_400_000_000

    /// A calendar day in UTC, as days since 1970-01-01.
    public struct Day: Hashable, Comparable, Sendable, CustomStringConvertible {
        public let daysSinceEpoch: Int64

        public init(daysSinceEpoch: Int64) { self.daysSinceEpoch = daysSinceEpoch }

        /// The UTC day holding an instant (floor division: instants before 1970 belong to earlier days).
        public init(microsecondsSinceEpoch: Int64) {
            let (quotient, remainder) = microsecondsSinceEpoch.quotientAndRemainder(dividingBy: UTCCalendar.microsecondsPerDay)
            daysSinceEpoch = remainder < 0 ? quotient - 1 : quotient
        }

        public init(year: Int64, month: Int64, day: Int64) {
            daysSinceEpoch = UTCCalendar.days(year: year, month: month, day: day)
        }

        public static func < (lhs: Day, rhs: Day) -> Bool { lhs.daysSinceEpoch < rhs.daysSinceEpoch }

        public var startMicroseconds: Int64 { daysSinceEpoch * UTCCalendar.microsecondsPerDay }
        public var next: Day { Day(daysSinceEpoch: daysSinceEpoch + 1) }
        public var civil: (year: Int64, month: Int64, day: Int64) { UTCCalendar.civil(days: daysSinceEpoch) }

        /// "2024-02-29".
        public var description: String {
            let (year, month, day) = civil
            return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
        }

        /// "20240229": the suffix of the day's partition name.
        public var compact: String {
            let (year, month, day) = civil
            return "\(pad(year, 4))\(pad(month, 2))\(pad(day, 2))"
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    public static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        precondition((1...12).contains(month) && (1...31).contains(day), "a calendar date")
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day number.
    public static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// RFC 3339 in UTC with microseconds: "2024-02-29T23:59:59.999999Z".
    public static func format(microsecondsSinceEpoch value: Int64) -> String {
        let day = Day(microsecondsSinceEpoch: value)
        let within = value - day.startMicroseconds
        let seconds = within / 1_000_000
        return "\(day)T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2)).\(pad(within % 1_000_000, 6))Z"
    }
}

/// Zero-padded decimal text of a non-negative number.
func pad(_ value: Int64, _ width: Int) -> String {
    let text = String(value)
    return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
}
