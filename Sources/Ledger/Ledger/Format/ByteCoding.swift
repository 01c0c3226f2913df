/// Little-endian and LEB128 encoding into a growable byte buffer: the only way ledger bytes are produced.
///
/// The buffer is memory this writer alone owns (the type is noncopyable, so no two writers share it, and `deinit`
/// frees it), written through a pointer after one capacity check per value. It was a `[UInt8]` appended a byte at
/// a time: a uniqueness and a capacity check per byte, about a tenth of the ingest thread on the mix (perf,
/// 2026-12-07; docs/BENCHMARKS.md).
struct ByteWriter: ~Copyable {
    /// The smallest buffer allocated, so that growth by doubling never starts from zero.
    private static let capacityBytesMin = 16
    /// An unsigned LEB128 of 64 bits takes at most ten bytes.
    private static let varintBytesMax = 10

    private var start: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Bytes written; `start[0..<count]` is initialized.
    private(set) var count = 0

    init(capacity: Int = 0) {
        self.capacity = Swift.max(capacity, Self.capacityBytesMin)
        start = .allocate(capacity: self.capacity)
    }

    deinit { start.deallocate() }

    /// A copy of the bytes written.
    var bytes: [UInt8] { Array(UnsafeBufferPointer(start: start, count: count)) }

    /// The bytes written, without a copy, valid only inside `body`.
    func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: start, count: count))
    }

    mutating func removeAll() { count = 0 }

    mutating func append<Integer: FixedWidthInteger>(littleEndian value: Integer) {
        let size = MemoryLayout<Integer>.size
        UnsafeMutableRawPointer(reserve(size)).storeBytes(of: value.littleEndian, as: Integer.self)
        count += size
    }

    /// Unsigned LEB128: 7 bits a byte, high bit set on every byte but the last.
    mutating func appendVarint(_ value: UInt64) {
        let target = reserve(Self.varintBytesMax)
        var remaining = value
        var written = 0
        while remaining >= 0x80 {
            target[written] = UInt8(truncatingIfNeeded: remaining) | 0x80
            remaining >>= 7
            written += 1
        }
        target[written] = UInt8(remaining)
        count += written + 1
    }

    /// Signed values are zig-zag mapped first, so that small negative numbers stay short.
    mutating func appendSignedVarint(_ value: Int64) {
        appendVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func append(bytes other: some Collection<UInt8>) {
        let byteCount = other.count
        let target = reserve(byteCount)
        let copied: Void? = other.withContiguousStorageIfAvailable { source in
            if let base = source.baseAddress { target.update(from: base, count: byteCount) }
        }
        if copied == nil {
            var written = 0
            for byte in other {
                precondition(written < byteCount, "a collection yields as many elements as its count")
                target[written] = byte
                written += 1
            }
            precondition(written == byteCount, "a collection yields as many elements as its count")
        }
        count += byteCount
    }

    /// A length-prefixed byte string (varint length, then the bytes).
    mutating func appendLengthPrefixed(_ value: some Collection<UInt8>) {
        appendVarint(UInt64(value.count))
        append(bytes: value)
    }

    mutating func appendZeros(_ byteCount: Int) {
        reserve(byteCount).initialize(repeating: 0, count: byteCount)
        count += byteCount
    }

    /// Where the next `byteCount` bytes go, after making room for them.
    @inline(__always)
    private mutating func reserve(_ byteCount: Int) -> UnsafeMutablePointer<UInt8> {
        precondition(byteCount >= 0, "a byte count is not negative")
        if capacity - count < byteCount { grow(toHold: count + byteCount) }
        return start + count
    }

    /// Doubles the buffer until it holds `byteCount` bytes, keeping those written.
    @inline(never)
    private mutating func grow(toHold byteCount: Int) {
        var newCapacity = capacity
        while newCapacity < byteCount { newCapacity *= 2 }
        let newStart = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newStart.initialize(from: start, count: count)
        start.deallocate()
        start = newStart
        capacity = newCapacity
    }
}

/// Bounds-checked decoding of ledger bytes. Every read returns nil past the end or on a malformed varint:
/// decoding never traps on bad input, and callers turn nil into a corruption error with context.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var position: Int

    init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }
    var isAtEnd: Bool { position >= bytes.count }

    mutating func read<Integer: FixedWidthInteger>(_: Integer.Type) -> Integer? {
        let size = MemoryLayout<Integer>.size
        guard remaining >= size else { return nil }
        let value = bytes.loadUnaligned(fromByteOffset: position, as: Integer.self)
        position += size
        return Integer(littleEndian: value)
    }

    /// Reads unsigned LEB128; nil past the end or for a varint longer than 10 bytes or overflowing 64 bits.
    mutating func readVarint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { return nil }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    mutating func readSignedVarint() -> Int64? {
        guard let raw = readVarint() else { return nil }
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    /// A varint that must fit in `Int` and be at most `maximum`.
    mutating func readLength(maximum: Int) -> Int? {
        guard let raw = readVarint(), raw <= UInt64(maximum) else { return nil }
        return Int(raw)
    }

    mutating func readBytes(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, remaining >= count else { return nil }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
    }

    mutating func readLengthPrefixed(maximum: Int) -> UnsafeRawBufferPointer? {
        guard let length = readLength(maximum: maximum) else { return nil }
        return readBytes(length)
    }
}
