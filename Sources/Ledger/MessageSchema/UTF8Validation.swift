/// Strict UTF-8 validation (RFC 3629) of raw bytes, without decoding them.
///
/// Run over the whole message before the JSON scanner, so that a message that is both bad UTF-8 and bad JSON is
/// reported as bad UTF-8 wherever the two faults are. Refused: stray continuation bytes, overlong forms (C0, C1,
/// E0 80–9F, F0 80–8F), UTF-16 surrogates encoded in UTF-8 (ED A0–BF), code points above U+10FFFF (F4 90–BF,
/// F5–FF) and sequences cut short by the end of the message.
package enum UTF8Validation {
    /// Bytes examined at once by the ASCII fast path: one 64-bit word.
    private static let fastPathBytesPerWord = 8
    /// The high bit of every byte of a word: set in some byte exactly when the word holds a non-ASCII byte.
    private static let nonASCIIBitsMask: UInt64 = 0x8080_8080_8080_8080

    /// Whether `bytes` are entirely well-formed UTF-8. An empty buffer is well-formed.
    package static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        var index = 0
        while index < count {
            // Transaction messages are almost entirely ASCII: skip it a word at a time.
            if index + fastPathBytesPerWord <= count,
                bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & nonASCIIBitsMask == 0
            {
                index += fastPathBytesPerWord
                continue
            }
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            guard let length = sequenceLength(in: bytes, at: index, lead: lead) else { return false }
            index += length
        }
        return true
    }

    /// The length of the well-formed multi-byte sequence starting with `lead` at `index`, nil when ill-formed.
    private static func sequenceLength(in bytes: UnsafeRawBufferPointer, at index: Int, lead: UInt8) -> Int? {
        // The second byte's allowed range depends on the lead byte: that is where overlongs, surrogates and
        // code points past U+10FFFF are excluded (RFC 3629 §4, Unicode Table 3-7).
        let secondRange: ClosedRange<UInt8>
        let length: Int
        switch lead {
        case 0xC2...0xDF: (length, secondRange) = (2, 0x80...0xBF)
        case 0xE0: (length, secondRange) = (3, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (length, secondRange) = (3, 0x80...0xBF)
        case 0xED: (length, secondRange) = (3, 0x80...0x9F)
        case 0xF0: (length, secondRange) = (4, 0x90...0xBF)
        case 0xF1...0xF3: (length, secondRange) = (4, 0x80...0xBF)
        case 0xF4: (length, secondRange) = (4, 0x80...0x8F)
        default: return nil  // 80–BF (stray continuation), C0–C1 (overlong), F5–FF (beyond U+10FFFF)
        }
        guard index + length <= bytes.count, secondRange.contains(bytes[index + 1]) else { return nil }
        for offset in 2..<length where !isContinuation(bytes[index + offset]) {
            return nil
        }
        return length
    }

    private static func isContinuation(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }
}
