/// RFC 3339 `date-time` text ⇄ UTC microseconds, exactly, with no Foundation calendar (slow, locale-sensitive).
///
/// Accepted: `YYYY-MM-DD('T'|'t')HH:MM:SS(.F{1,6})?('Z'|'z'|('+'|'-')HH:MM)`, years 0001–9999.
/// Refused, as `.invalidTimestamp`: any other shape (a space for T, no seconds, "+0530", trailing text), days
/// that do not exist (2023-02-29, 1900-02-29, 04-31), hour > 23, minute > 59, offsets beyond ±23:59, year 0000,
/// more than 6 fraction digits (the warehouse keeps microseconds and we refuse to round), and the leap second
/// 60: RFC 3339 allows it, but PostgreSQL silently rolls "23:59:60" over into the next minute while other
/// readers refuse it, so a ledger that must reconcile exactly refuses it too.
/// A well-formed, existing local date-time with no zone at all is `.timestampWithoutZone`: it names no instant.
/// A valid date-time whose UTC instant falls outside years 0001–9999 (`MessageLimits.timestampMicrosecondsRange`, e.g.
/// "9999-12-31T23:59:59-00:01") is `.timestampOutOfRange`: the warehouse would refuse it.
public enum RFC3339 {
    /// Most fraction-of-second digits accepted: microseconds, the resolution of PostgreSQL's TIMESTAMPTZ.
    public static let fractionDigitsMax = 6
    /// Earliest year accepted (RFC 3339 allows 0000; no transaction happened then, and year 0 is not a
    /// year of the Gregorian calendar as people use it).
    public static let yearMin = 1
    /// Latest year accepted: four digits.
    public static let yearMax = 9999

    private static let microsecondsPerSecond: Int64 = 1_000_000
    private static let secondsPerMinute: Int64 = 60
    private static let secondsPerDay: Int64 = 86_400
    private static let microsecondsPerDay = secondsPerDay * microsecondsPerSecond

    // MARK: Parsing

    /// Parses an RFC 3339 date-time with a zone into an instant in UTC microseconds since the Unix epoch,
    /// remembering the offset written; or says why the text is not one (see the type's documentation).
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<UTCTimestamp, RejectReason> {
        var cursor = ByteCursor(bytes)
        guard let local = parseLocalDateTime(&cursor), local.isExisting else { return .failure(.invalidTimestamp) }
        if cursor.isAtEnd { return .failure(.timestampWithoutZone) }
        guard let offsetMinutes = parseOffsetMinutes(&cursor), cursor.isAtEnd else {
            return .failure(.invalidTimestamp)
        }
        let utcMicroseconds =
            local.microsecondsSinceEpochAsIfUTC
            - Int64(offsetMinutes) * secondsPerMinute * microsecondsPerSecond
        // The range is the UTC instant's: "0001-01-01T00:00:00+00:01" is a day of year 0 in UTC.
        guard MessageLimits.timestampMicrosecondsRange.contains(utcMicroseconds) else {
            return .failure(.timestampOutOfRange)
        }
        return .success(UTCTimestamp(microsecondsSinceEpoch: utcMicroseconds, originalOffsetMinutes: offsetMinutes))
    }

    /// Parses text (convenience for callers holding a String).
    public static func parse(_ text: String) -> Result<UTCTimestamp, RejectReason> {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// A calendar date and time of day as written, before its zone is applied; fields not yet range-checked.
    private struct LocalDateTime {
        var year, month, day, hour, minute, second: Int
        var microsecond: Int

        /// Whether this names a day of the proleptic Gregorian calendar and a time of day (no leap second).
        var isExisting: Bool {
            (RFC3339.yearMin...RFC3339.yearMax).contains(year) && (1...12).contains(month)
                && (1...RFC3339.daysInMonth(month, year: year)).contains(day) && hour <= 23 && minute <= 59
                && second <= 59
        }

        var microsecondsSinceEpochAsIfUTC: Int64 {
            let days = Int64(RFC3339.daysSinceEpoch(year: year, month: month, day: day))
            let seconds = days * RFC3339.secondsPerDay + Int64(hour * 3600 + minute * 60 + second)
            return seconds * RFC3339.microsecondsPerSecond + Int64(microsecond)
        }
    }

    /// `YYYY-MM-DD('T'|'t')HH:MM:SS(.F{1,6})?`, nil when the text does not have that shape.
    private static func parseLocalDateTime(_ cursor: inout ByteCursor) -> LocalDateTime? {
        guard let year = cursor.digits(4), cursor.take(ASCII.minus), let month = cursor.digits(2),
            cursor.take(ASCII.minus), let day = cursor.digits(2),
            cursor.take(UInt8(ascii: "T")) || cursor.take(UInt8(ascii: "t")),
            let hour = cursor.digits(2), cursor.take(ASCII.colon), let minute = cursor.digits(2),
            cursor.take(ASCII.colon), let second = cursor.digits(2)
        else { return nil }
        var microsecond = 0
        if cursor.take(ASCII.dot) {
            guard let fraction = parseFractionMicroseconds(&cursor) else { return nil }
            microsecond = fraction
        }
        return LocalDateTime(
            year: year, month: month, day: day, hour: hour, minute: minute, second: second, microsecond: microsecond)
    }

    /// The digits after the decimal point as microseconds ("5" → 500 000), nil for none or more than 6.
    private static func parseFractionMicroseconds(_ cursor: inout ByteCursor) -> Int? {
        var value = 0
        var digitCount = 0
        while let digit = cursor.digit() {
            digitCount += 1
            guard digitCount <= fractionDigitsMax else { return nil }
            value = value * 10 + digit
        }
        guard digitCount > 0 else { return nil }
        for _ in digitCount..<fractionDigitsMax { value *= 10 }
        return value
    }

    /// `Z`, `z` or `±HH:MM` as signed minutes east of UTC ("-00:00" is 0), nil when malformed or out of range.
    private static func parseOffsetMinutes(_ cursor: inout ByteCursor) -> Int16? {
        if cursor.take(UInt8(ascii: "Z")) || cursor.take(UInt8(ascii: "z")) { return 0 }
        let sign: Int
        if cursor.take(ASCII.plus) {
            sign = 1
        } else if cursor.take(ASCII.minus) {
            sign = -1
        } else {
            return nil
        }
        guard let hours = cursor.digits(2), cursor.take(ASCII.colon), let minutes = cursor.digits(2),
            hours <= 23, minutes <= 59
        else { return nil }
        return Int16(sign * (hours * 60 + minutes))
    }

    // MARK: Formatting

    /// Most bytes of a formatted instant: "+292278-12-31T23:59:59.999999Z" (Int64 microseconds reach year ±292 277).
    private static let formattedBytesMax = 32

    /// The instant as RFC 3339 text in UTC with exactly six fraction digits, e.g. "2024-01-15T10:30:00.000000Z".
    /// Total: an instant outside years 0000–9999 gets a signed, longer year (ISO 8601 expanded form) instead of
    /// trapping, though no parsed timestamp is ever that far.
    public static func format(microsecondsSinceEpoch: Int64) -> String {
        let (days, microsecondOfDay) = floorDivision(microsecondsSinceEpoch, by: microsecondsPerDay)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let secondOfDay = Int(microsecondOfDay / microsecondsPerSecond)
        let microsecond = Int(microsecondOfDay % microsecondsPerSecond)
        return String(unsafeUninitializedCapacity: formattedBytesMax) { buffer in
            var writer = DecimalWriter(buffer: buffer)
            if !(0...yearMax).contains(year) { writer.append(year < 0 ? ASCII.minus : ASCII.plus) }
            writer.append(Int(year.magnitude), width: 4)
            writer.append(ASCII.minus)
            writer.append(month, width: 2)
            writer.append(ASCII.minus)
            writer.append(day, width: 2)
            writer.append(UInt8(ascii: "T"))
            writer.append(secondOfDay / 3600, width: 2)
            writer.append(ASCII.colon)
            writer.append(secondOfDay / 60 % 60, width: 2)
            writer.append(ASCII.colon)
            writer.append(secondOfDay % 60, width: 2)
            writer.append(ASCII.dot)
            writer.append(microsecond, width: fractionDigitsMax)
            writer.append(UInt8(ascii: "Z"))
            return writer.count
        }
    }

    /// Quotient rounded towards minus infinity and the non-negative remainder (`divisor` > 0).
    private static func floorDivision(_ dividend: Int64, by divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        precondition(divisor > 0, "only positive divisors")
        let quotient = dividend / divisor
        let remainder = dividend % divisor
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    // MARK: Calendar

    /// Whether `year` is a leap year of the proleptic Gregorian calendar.
    static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    /// Days in `month` (1–12) of `year`.
    static func daysInMonth(_ month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to the given date of the proleptic Gregorian calendar (negative before it). Howard
    /// Hinnant's exact `days_from_civil`: the year is shifted to start in March so that the leap day is last.
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let marchYear = month <= 2 ? year - 1 : year
        let era = (marchYear >= 0 ? marchYear : marchYear - 399) / 400
        let yearOfEra = marchYear - era * 400  // 0...399
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1  // 0...365
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear  // 0...146096
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` after 1970-01-01: Hinnant's `civil_from_days`, the inverse of `daysSinceEpoch`.
    static func civilDate(daysSinceEpoch days: Int64) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097  // 0...146096
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365  // 0...399
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // 0...365
        let marchMonth = (5 * dayOfYear + 2) / 153  // 0...11, March = 0
        let day = dayOfYear - (153 * marchMonth + 2) / 5 + 1
        let month = marchMonth < 10 ? marchMonth + 3 : marchMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }
}

/// Writes ASCII text into a buffer the caller sized for the longest text (a precondition guards that).
private struct DecimalWriter {
    let buffer: UnsafeMutableBufferPointer<UInt8>
    private(set) var count = 0

    init(buffer: UnsafeMutableBufferPointer<UInt8>) {
        self.buffer = buffer
    }

    mutating func append(_ byte: UInt8) {
        precondition(count < buffer.count, "the buffer is sized for the longest text")
        buffer[count] = byte
        count += 1
    }

    /// Appends a non-negative number in decimal, with leading zeros up to `width` digits.
    mutating func append(_ value: Int, width: Int) {
        precondition(value >= 0, "only non-negative numbers")
        var digitCount = 1
        var shifted = value / 10
        while shifted > 0 {
            digitCount += 1
            shifted /= 10
        }
        let start = count
        for _ in 0..<max(width, digitCount) { append(ASCII.zero) }
        // Fill the digits in from the right; the slots left of them keep their zeros.
        var remaining = value
        var index = count - 1
        while remaining > 0 {
            buffer[index] = ASCII.zero + UInt8(remaining % 10)
            remaining /= 10
            index -= 1
        }
        precondition(index >= start - 1, "every digit had a slot")
    }
}

/// Reads ASCII tokens from the front of a byte buffer; every read is bounds-checked and fails softly.
private struct ByteCursor {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { position >= bytes.count }

    /// Consumes `expected` if it is the next byte.
    mutating func take(_ expected: UInt8) -> Bool {
        guard !isAtEnd, bytes[position] == expected else { return false }
        position += 1
        return true
    }

    /// Consumes one decimal digit and returns its value, or nil (consuming nothing).
    mutating func digit() -> Int? {
        guard !isAtEnd, ASCII.isDigit(bytes[position]) else { return nil }
        defer { position += 1 }
        return Int(bytes[position] - ASCII.zero)
    }

    /// Consumes exactly `count` decimal digits and returns their value, or nil.
    mutating func digits(_ count: Int) -> Int? {
        var value = 0
        for _ in 0..<count {
            guard let digit = digit() else { return nil }
            value = value * 10 + digit
        }
        return value
    }
}

/// A reason can be the failure of a `Result` (as `RFC3339.parse` returns): the reason alone, without the field
/// that a `Rejection` adds, is what a parser that knows nothing of fields can say.
extension RejectReason: Error {}
