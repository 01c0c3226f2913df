import Foundation

/// Tuples in PostgreSQL's binary COPY format (`COPY … FROM STDIN (FORMAT binary)`; PostgreSQL manual, "COPY",
/// section "Binary Format"). Binary, not text, because every value goes in exactly as the server stores it:
/// no decimal or date parsing on the server, no escaping of tabs, newlines or backslashes in customer text.
///
///     header   11 bytes  "PGCOPY\n\xFF\r\n\0"
///               4 bytes  flags: 0 (no OIDs)
///               4 bytes  header extension length: 0
///     tuple     2 bytes  field count, then for each field:
///               4 bytes  value length in bytes, -1 for NULL (and then no value bytes)
///               n bytes  the value in its type's binary send format
///     trailer   2 bytes  -1
///
/// Every integer is big-endian. The value formats used here:
///
///     uuid         16 bytes, RFC 4122 order
///     text/varchar UTF-8 bytes (no terminator)
///     bytea        the bytes
///     bool         1 byte, 0 or 1
///     int4, int8   big-endian two's complement
///     timestamptz  int8: microseconds since 2000-01-01 00:00:00 UTC
///     numeric      int16 ndigits, int16 weight, int16 sign (0x0000 positive, 0x4000 negative), int16 dscale,
///                  then ndigits int16 base-10000 digits, most significant first:
///                  value = Σ digit[i] × 10000^(weight − i), shown with dscale fraction digits
package struct BinaryCopyBuffer: ~Copyable {
    /// The bytes so far, in memory this buffer owns (grown by doubling, freed in deinit). Raw memory rather
    /// than [UInt8]: appending big-endian integers with `storeBytes` is several times faster than
    /// `Array.append(contentsOf:)`, and this is the projector's innermost loop.
    private var storage: UnsafeMutableRawBufferPointer
    private(set) var count = 0

    package static let signature: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00]
    /// 2000-01-01 00:00:00 UTC, PostgreSQL's epoch, in microseconds since the Unix epoch.
    package static let postgresEpochMicroseconds: Int64 = 946_684_800_000_000
    private static let numericPositive: UInt16 = 0x0000
    private static let numericNegative: UInt16 = 0x4000

    package init(capacity: Int = 4096) {
        storage = .allocate(byteCount: max(capacity, 64), alignment: 8)
    }

    deinit { storage.deallocate() }

    /// The bytes written so far; valid until the next change to the buffer.
    package var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<count]) }

    /// A copy of the bytes written so far (for tests).
    package var bytes: [UInt8] { Array(written) }

    package mutating func removeAll() { count = 0 }

    /// Makes room for `byteCount` more bytes.
    private mutating func reserve(_ byteCount: Int) {
        guard count + byteCount > storage.count else { return }
        let grown = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(storage.count * 2, count + byteCount), alignment: 8)
        grown.copyMemory(from: written)
        storage.deallocate()
        storage = grown
    }

    package mutating func appendHeader() {
        Self.signature.withUnsafeBytes { appendRawBytes($0) }
        appendRaw(Int32(0))
        appendRaw(Int32(0))
    }

    package mutating func appendTrailer() { appendRaw(Int16(-1)) }

    package mutating func beginTuple(fieldCount: Int) {
        precondition((1...1600).contains(fieldCount), "a PostgreSQL row has 1 to 1600 columns")
        appendRaw(Int16(fieldCount))
    }

    // MARK: Values

    package mutating func appendNull() { appendRaw(Int32(-1)) }

    package mutating func appendInt32(_ value: Int32) {
        appendRaw(Int32(4))
        appendRaw(value)
    }

    package mutating func appendInt64(_ value: Int64) {
        appendRaw(Int32(8))
        appendRaw(value)
    }

    package mutating func appendBool(_ value: Bool) {
        appendRaw(Int32(1))
        appendRaw(UInt8(value ? 1 : 0))
    }

    package mutating func appendUUID(_ value: UUID) {
        appendRaw(Int32(16))
        reserve(16)
        withUnsafeBytes(of: value.uuid) {
            storage.baseAddress!.advanced(by: count).copyMemory(from: $0.baseAddress!, byteCount: 16)
        }
        count += 16
    }

    package mutating func appendText(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            appendRaw(Int32(utf8.count))
            appendRawBytes(UnsafeRawBufferPointer(utf8))
        }
    }

    package mutating func appendText(_ value: String?) {
        guard let value else { return appendNull() }
        appendText(value)
    }

    /// A jsonb value from JSON text (NULL for nil): jsonb's binary form is a version byte (1), then the text.
    package mutating func appendJSONB(_ value: String?) {
        guard var value else { return appendNull() }
        value.withUTF8 { utf8 in
            appendRaw(Int32(utf8.count + 1))
            appendRaw(UInt8(1))
            appendRawBytes(UnsafeRawBufferPointer(utf8))
        }
    }

    package mutating func appendBytes(_ value: [UInt8]?) {
        guard let value else { return appendNull() }
        appendRaw(Int32(value.count))
        value.withUnsafeBytes { appendRawBytes($0) }
    }

    /// A timestamptz from microseconds since the Unix epoch. Callers keep values within the warehouse's range
    /// (years 1-9999, checked where rows are made); this checks only what the encoding itself needs.
    package mutating func appendTimestamp(microsecondsSinceUnixEpoch value: Int64) {
        let (sincePostgresEpoch, overflow) = value.subtractingReportingOverflow(Self.postgresEpochMicroseconds)
        precondition(!overflow, "timestamp \(value) µs is outside what int8 microseconds since 2000 can hold")
        appendInt64(sincePostgresEpoch)
    }

    /// A numeric with scale 2 from an amount in hundredths (cents): 12345 → 123.45.
    package mutating func appendNumeric(cents: Int64) {
        let magnitude = cents.magnitude
        let integerPart = magnitude / 100
        var integerDigitCount = 0
        var remaining = integerPart
        while remaining > 0 {
            integerDigitCount += 1
            remaining /= 10_000
        }
        // Int64's magnitude has at most 5 base-10000 integer digits, plus one for the two fraction digits.
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 6) { digits in
            remaining = integerPart
            for index in stride(from: integerDigitCount - 1, through: 0, by: -1) {
                digits[index] = UInt16(remaining % 10_000)
                remaining /= 10_000
            }
            // Two decimal fraction digits are the high half of one base-10000 digit: .45 → 4500.
            digits[integerDigitCount] = UInt16(magnitude % 100) * 100
            var count = integerDigitCount + 1
            // Zero digits at the end carry no information (the server strips them too); the first integer
            // digit is never zero by construction.
            while count > 0 && digits[count - 1] == 0 { count -= 1 }
            appendRaw(Int32(8 + 2 * count))
            appendRaw(Int16(count))
            appendRaw(count == 0 ? Int16(0) : Int16(integerDigitCount - 1))
            appendRaw(cents < 0 ? Self.numericNegative : Self.numericPositive)
            appendRaw(Int16(2))
            for index in 0..<count { appendRaw(digits[index]) }
        }
    }

    private mutating func appendRawBytes(_ source: UnsafeRawBufferPointer) {
        guard let base = source.baseAddress, source.count > 0 else { return }
        reserve(source.count)
        storage.baseAddress!.advanced(by: count).copyMemory(from: base, byteCount: source.count)
        count += source.count
    }

    private mutating func appendRaw<Value: FixedWidthInteger>(_ value: Value) {
        reserve(MemoryLayout<Value>.size)
        storage.storeBytes(of: value.bigEndian, toByteOffset: count, as: Value.self)
        count += MemoryLayout<Value>.size
    }
}
