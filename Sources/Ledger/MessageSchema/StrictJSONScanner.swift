/// The kind of a JSON value, known from its first byte.
enum JSONValueKind: Sendable, Equatable {
    case object, array, string, number, boolean, null
}

/// Where a scanned JSON value lies in the message. For a string, `start..<end` is its content without the quotes,
/// still escaped; for any other value it is the value's whole text.
struct JSONValueSpan: Sendable, Equatable {
    var kind: JSONValueKind
    var start: Int
    var end: Int
    /// Whether a string's content holds a backslash escape (and so must be unescaped before use).
    var hasEscapes: Bool = false
}

/// The message is not well-formed JSON; `byteOffset` is where the scanner gave up (for debugging only).
struct JSONSyntaxError: Error, Equatable {
    var byteOffset: Int
}

/// A strict RFC 8259 scanner over raw bytes that checks the whole text and reports the members of a top-level
/// object, without building any tree or allocating.
///
/// The input must already be valid UTF-8 (see `UTF8Validation`): the scanner then only has to look at ASCII bytes.
/// Refused, as RFC 8259 requires: anything but one value with optional whitespace (space, tab, LF, CR) around
/// it, trailing commas, single quotes, unescaped control characters in strings, unknown escapes, `\u` escapes
/// naming a lone surrogate, leading zeros, `NaN`, `Infinity`. A leading UTF-8 byte order mark is refused too:
/// §8.1 says senders MUST NOT add one and parsers MAY ignore it; a producer that adds one is broken, and
/// accepting it would make the ledger's idea of "the same message" depend on invisible bytes.
/// Nesting deeper than `nestingLevelsMax` is refused too. Containers are skipped iteratively, never recursively,
/// so no input can exhaust the stack.
struct StrictJSONScanner {
    /// The deepest nesting of arrays and objects accepted, the top-level value being at depth 1. A transaction is
    /// one flat object; 64 levels is far more than any honest producer nests, bounds the work per message, and lets
    /// the stack of open containers live in one 64-bit word.
    static let nestingLevelsMax = 64

    private let bytes: UnsafeRawBufferPointer
    /// The index of the next byte to read. Always ≥ 0; may equal `bytes.count` (the end).
    private var position = 0
    /// Whether `nextMember()` has yet to return the first member of the top-level object.
    private var isBeforeFirstMember = true

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    // MARK: Document

    /// Reads leading whitespace and, when the top-level value is an object, its opening brace. Returns whether the
    /// top-level value is an object: if so read it with `nextMember()`, otherwise with `skipTopLevelNonObject()`.
    mutating func beginDocument() -> Bool {
        skipWhitespace()
        guard current == ASCII.openBrace else { return false }
        position += 1
        return true
    }

    /// Checks the top-level value that is not an object, then the end of the document.
    mutating func skipTopLevelNonObject() throws(JSONSyntaxError) {
        _ = try scanValue(depth: 1)
        try finishDocument()
    }

    /// The next member of the top-level object, or nil after its closing brace (then call `finishDocument()`).
    mutating func nextMember() throws(JSONSyntaxError) -> (key: JSONValueSpan, value: JSONValueSpan)? {
        skipWhitespace()
        if isBeforeFirstMember {
            isBeforeFirstMember = false
            if current == ASCII.closeBrace {
                position += 1
                return nil
            }
        } else {
            if current == ASCII.closeBrace {
                position += 1
                return nil
            }
            try expect(ASCII.comma)
            skipWhitespace()
        }
        let key = try scanMemberKeyAndColon()
        let value = try scanValue(depth: 2)
        return (key, value)
    }

    /// Checks that only whitespace follows the top-level value.
    mutating func finishDocument() throws(JSONSyntaxError) {
        skipWhitespace()
        guard position == bytes.count else { throw syntaxError }
    }

    // MARK: Values

    /// Scans one value starting at the current byte; `depth` is the nesting depth it would have as a container.
    private mutating func scanValue(depth: Int) throws(JSONSyntaxError) -> JSONValueSpan {
        let start = position
        switch current {
        case ASCII.openBrace:
            try skipContainer(depth: depth)
            return JSONValueSpan(kind: .object, start: start, end: position)
        case ASCII.openBracket:
            try skipContainer(depth: depth)
            return JSONValueSpan(kind: .array, start: start, end: position)
        default:
            return try scanScalar()
        }
    }

    /// Scans a string, number or literal starting at the current byte.
    private mutating func scanScalar() throws(JSONSyntaxError) -> JSONValueSpan {
        let start = position
        switch current {
        case ASCII.quote:
            return try scanString()
        case ASCII.minus, ASCII.zero...ASCII.nine:
            try scanNumber()
            return JSONValueSpan(kind: .number, start: start, end: position)
        case UInt8(ascii: "t"):
            try scanLiteral("true")
            return JSONValueSpan(kind: .boolean, start: start, end: position)
        case UInt8(ascii: "f"):
            try scanLiteral("false")
            return JSONValueSpan(kind: .boolean, start: start, end: position)
        case UInt8(ascii: "n"):
            try scanLiteral("null")
            return JSONValueSpan(kind: .null, start: start, end: position)
        default:
            throw syntaxError
        }
    }

    /// Skips the array or object opening at the current byte, whose own depth is `depth`, with everything in it.
    ///
    /// Iterative: the kinds of the open containers are bits of one word (bit n set: the container n levels below
    /// the outermost is an object), which `nestingLevelsMax` ≤ 64 makes sufficient.
    private mutating func skipContainer(depth: Int) throws(JSONSyntaxError) {
        precondition(depth >= 1 && Self.nestingLevelsMax <= UInt64.bitWidth, "depth bookkeeping is consistent")
        let openCountMax = Self.nestingLevelsMax - depth + 1
        var objectBits: UInt64 = 0
        var openCount = 0
        while true {
            // Here a value starts at the current byte.
            let opener = current
            if opener == ASCII.openBrace || opener == ASCII.openBracket {
                guard openCount < openCountMax else { throw syntaxError }
                let isObject = opener == ASCII.openBrace
                let bit: UInt64 = 1 << UInt64(openCount)
                objectBits = isObject ? objectBits | bit : objectBits & ~bit
                openCount += 1
                position += 1
                skipWhitespace()
                if current != (isObject ? ASCII.closeBrace : ASCII.closeBracket) {
                    if isObject { _ = try scanMemberKeyAndColon() }
                    continue
                }
                position += 1  // An empty container: a complete value.
                openCount -= 1
            } else {
                _ = try scanScalar()
            }
            // A value is complete: close the containers it completes, or step to the next element.
            guard try closeOrContinue(objectBits: objectBits, openCount: &openCount) else { return }
        }
    }

    /// After a value inside the containers described by `objectBits` and `openCount`: reads closing brackets
    /// until a comma (then returns true, positioned at the next value) or until no container is left open
    /// (returns false).
    private mutating func closeOrContinue(objectBits: UInt64, openCount: inout Int) throws(JSONSyntaxError) -> Bool {
        while openCount > 0 {
            skipWhitespace()
            let isObject = objectBits & (1 << UInt64(openCount - 1)) != 0
            if current == ASCII.comma {
                position += 1
                skipWhitespace()
                if isObject { _ = try scanMemberKeyAndColon() }
                return true
            }
            guard current == (isObject ? ASCII.closeBrace : ASCII.closeBracket) else { throw syntaxError }
            position += 1
            openCount -= 1
        }
        return false
    }

    /// Scans `"key"` `:` and the whitespace after it; returns the key.
    private mutating func scanMemberKeyAndColon() throws(JSONSyntaxError) -> JSONValueSpan {
        guard current == ASCII.quote else { throw syntaxError }
        let key = try scanString()
        skipWhitespace()
        try expect(ASCII.colon)
        skipWhitespace()
        return key
    }

    // MARK: Scalars

    /// Scans a string whose opening quote is the current byte.
    private mutating func scanString() throws(JSONSyntaxError) -> JSONValueSpan {
        position += 1
        let start = position
        var hasEscapes = false
        while true {
            let byte = current
            if byte == ASCII.quote {
                position += 1
                return JSONValueSpan(kind: .string, start: start, end: position - 1, hasEscapes: hasEscapes)
            }
            if byte == ASCII.backslash {
                hasEscapes = true
                try scanEscape()
            } else {
                // Control characters must be escaped; the end of input reads as 0, so it lands here too.
                guard byte >= ASCII.firstNonControl else { throw syntaxError }
                position += 1
            }
        }
    }

    /// Scans one escape sequence whose backslash is the current byte; a `\u` high surrogate must be followed at
    /// once by a `\u` low surrogate, and a low surrogate may not stand alone.
    private mutating func scanEscape() throws(JSONSyntaxError) {
        let escaped = byte(at: position + 1)
        guard escaped == UInt8(ascii: "u") else {
            guard JSONEscapes.simpleEscapeValue(escaped) != nil else { throw syntaxError }
            position += 2
            return
        }
        guard let unit = JSONEscapes.hexQuad(in: bytes, at: position + 2) else { throw syntaxError }
        position += 6
        if UTF16.isTrailSurrogate(unit) { throw syntaxError }
        guard UTF16.isLeadSurrogate(unit) else { return }
        guard current == ASCII.backslash, byte(at: position + 1) == UInt8(ascii: "u"),
            let trail = JSONEscapes.hexQuad(in: bytes, at: position + 2), UTF16.isTrailSurrogate(trail)
        else { throw syntaxError }
        position += 6
    }

    /// Scans `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` (RFC 8259 §6) starting at the current byte.
    private mutating func scanNumber() throws(JSONSyntaxError) {
        if current == ASCII.minus { position += 1 }
        if current == ASCII.zero {
            position += 1  // A leading zero stands alone: "01" fails at the caller, on the unexpected "1".
        } else {
            try scanDigits()
        }
        if current == ASCII.dot {
            position += 1
            try scanDigits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            position += 1
            if current == ASCII.plus || current == ASCII.minus { position += 1 }
            try scanDigits()
        }
    }

    /// Scans one or more decimal digits.
    private mutating func scanDigits() throws(JSONSyntaxError) {
        guard ASCII.isDigit(current) else { throw syntaxError }
        repeat { position += 1 } while ASCII.isDigit(current)
    }

    /// Scans the exact text `literal` (true, false or null).
    private mutating func scanLiteral(_ literal: StaticString) throws(JSONSyntaxError) {
        let length = literal.utf8CodeUnitCount
        for offset in 0..<length where byte(at: position + offset) != literal.utf8Start[offset] {
            throw syntaxError
        }
        position += length
    }

    // MARK: Bytes

    /// The byte at `index`, or 0 past the end: 0 is valid nowhere in JSON outside a string, and inside one it is
    /// an unescaped control character, so every check fails on it as it must at the end of input.
    private func byte(at index: Int) -> UInt8 {
        index < bytes.count ? bytes[index] : 0
    }

    private var current: UInt8 { byte(at: position) }

    private mutating func skipWhitespace() {
        while ASCII.isJSONWhitespace(current) { position += 1 }
    }

    private mutating func expect(_ expected: UInt8) throws(JSONSyntaxError) {
        guard current == expected else { throw syntaxError }
        position += 1
    }

    private var syntaxError: JSONSyntaxError { JSONSyntaxError(byteOffset: position) }
}

/// Decoding of JSON string escapes (RFC 8259 §7), shared by the scanner (which checks them) and the unescaper.
enum JSONEscapes {
    /// The byte a two-character escape stands for (`\n` → 0x0A), nil when `escaped` names no such escape.
    /// `u` is not among them: `\uXXXX` is decoded with `hexQuad`.
    static func simpleEscapeValue(_ escaped: UInt8) -> UInt8? {
        switch escaped {
        case ASCII.quote, ASCII.backslash, ASCII.slash: escaped
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
    }

    /// The UTF-16 code unit written as four hexadecimal digits at `index`, nil when they are not four hex digits
    /// (including when the text ends first).
    static func hexQuad(in bytes: UnsafeRawBufferPointer, at index: Int) -> UInt16? {
        guard index >= 0, index + 4 <= bytes.count else { return nil }
        var unit: UInt16 = 0
        for offset in 0..<4 {
            guard let digit = ASCII.hexDigitValue(bytes[index + offset]) else { return nil }
            unit = unit << 4 | UInt16(digit)
        }
        return unit
    }

    /// The UTF-8 bytes of a string's content that the scanner has checked, with every escape decoded.
    static func unescape(_ content: UnsafeRawBufferPointer) -> [UInt8] {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(content.count)
        var index = 0
        while index < content.count {
            let byte = content[index]
            guard byte == ASCII.backslash else {
                decoded.append(byte)
                index += 1
                continue
            }
            precondition(index + 1 < content.count, "the scanner checked every escape")
            if let value = simpleEscapeValue(content[index + 1]) {
                decoded.append(value)
                index += 2
            } else {
                index = appendUnicodeEscape(content, at: index, to: &decoded)
            }
        }
        return decoded
    }

    /// Decodes the `\uXXXX` escape (or surrogate pair of them) at `index` into `decoded`; returns the index after it.
    private static func appendUnicodeEscape(_ content: UnsafeRawBufferPointer, at index: Int, to decoded: inout [UInt8])
        -> Int
    {
        guard let unit = hexQuad(in: content, at: index + 2) else {
            preconditionFailure("the scanner checked every escape")
        }
        var scalarValue = UInt32(unit)
        var next = index + 6
        if UTF16.isLeadSurrogate(unit) {
            guard let trail = hexQuad(in: content, at: next + 2), UTF16.isTrailSurrogate(trail) else {
                preconditionFailure("the scanner paired every surrogate")
            }
            scalarValue = 0x10000 + (UInt32(unit) - 0xD800) << 10 + (UInt32(trail) - 0xDC00)
            next += 6
        }
        guard let scalar = Unicode.Scalar(scalarValue) else {
            preconditionFailure("the scanner refused lone surrogates")
        }
        decoded.append(contentsOf: scalar.utf8)
        return next
    }
}

/// The ASCII bytes the scanners compare against, by name.
enum ASCII {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let slash = UInt8(ascii: "/")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let dot = UInt8(ascii: ".")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
    /// The first byte that is not a C0 control character (those must be escaped inside JSON strings).
    static let firstNonControl: UInt8 = 0x20

    static func isDigit(_ byte: UInt8) -> Bool { byte &- zero < 10 }

    /// JSON's four whitespace characters (RFC 8259 §2): space, tab, line feed, carriage return. Nothing else.
    static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    /// The value of a hexadecimal digit of either case, nil for any other byte.
    static func hexDigitValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case zero...nine: byte - zero
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
