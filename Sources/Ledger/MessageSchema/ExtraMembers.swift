/// The text a message's members outside the schema are kept as (`UnknownFieldPolicy.keep`): one JSON object,
/// which the warehouse stores in a `jsonb` column. Checked where the text is made (the validator), before it is
/// written (the ledger's record bounds) and before it is projected, on the same rules.
public enum ExtraMembers {
    /// Whether `text` can be kept and projected: valid UTF-8 JSON holding one object, at most
    /// `MessageLimits.extraMembersBytesMax` bytes, without the escape `\u0000` (PostgreSQL's jsonb cannot hold
    /// the NUL character, and would refuse the whole batch).
    public static func isStorable(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            return raw.count <= MessageLimits.extraMembersBytesMax && UTF8Validation.isValid(raw) && isObject(raw)
                && !holdsNulEscape(raw)
        }
    }

    private static func isObject(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var scanner = StrictJSONScanner(bytes)
        guard scanner.beginDocument() else { return false }
        do {
            while try scanner.nextMember() != nil {}
            try scanner.finishDocument()
            return true
        } catch {
            return false
        }
    }

    /// A `\u0000` escape in well-formed JSON: a backslash escapes exactly the character after it, so `\\u0000`
    /// (an escaped backslash, then text) is not one.
    static func holdsNulEscape(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count else {
                index += 1
                continue
            }
            if bytes[index + 1] == UInt8(ascii: "u"), index + 5 < bytes.count,
                bytes[(index + 2)..<(index + 6)].elementsEqual(Array("0000".utf8))
            {
                return true
            }
            index += 2
        }
        return false
    }
}
