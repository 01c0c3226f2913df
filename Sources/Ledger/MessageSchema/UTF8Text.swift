/// Cutting UTF-8 text to a byte budget without splitting a character: the one way the ledger shortens text
/// that came from a producer (a rejection's field), so that what it stores is always valid UTF-8.
package enum UTF8Text {
    /// The longest prefix of `bytes` of at most `bytesMax` bytes that ends at a character boundary, as text.
    /// `bytes` must be valid UTF-8 (it comes from a `String` or from validated input).
    package static func prefix(_ bytes: some Collection<UInt8>, bytesMax: Int) -> String {
        let bytes = Array(bytes)
        return String(decoding: bytes[..<boundary(in: bytes, atMost: bytesMax)], as: UTF8.self)
    }

    /// The largest index ≤ `bytesMax` at which a character starts (or the text ends): never inside a
    /// multi-byte sequence, whose continuation bytes are 10xxxxxx.
    static func boundary(in bytes: [UInt8], atMost bytesMax: Int) -> Int {
        var end = min(bytes.count, bytesMax)
        while end < bytes.count, end > 0, bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return end
    }
}
