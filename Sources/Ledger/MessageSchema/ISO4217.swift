/// The active ISO 4217 alphabetic currency codes: List One (maintained by SIX for ISO) as it stood at the end of
/// 2024, after amendment 177.
///
/// The whole of List One is here, including the fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW), the
/// precious metals and supranational units (XAG, XAU, XBA…XBD, XDR, XPD, XPT, XSU, XUA), XTS (testing) and XXX
/// (no currency): they are active codes, and which of them a business accepts is a rule for another layer.
/// Withdrawn codes are refused, e.g. HRK (euro since 2023-01-01), SLL (redenominated as SLE; withdrawn
/// 2023-12-31), ZWL (replaced by ZWG, added 2024-06-25; withdrawn 2024-08-31), VEF (replaced by VES, then VED),
/// BYR, MRO, STD, LTL, LVL, EEK and the pre-euro DEM, FRF, ITL… Still listed in 2024: CUC (moved to the
/// historic list by amendment 178, February 2025). Not yet: XCG (Caribbean guilder, from 2025-03-31, replacing
/// ANG). Update `activeCodes` and bump `MessageValidator.version` when ISO amends the list.
public enum ISO4217 {
    /// Every active alphabetic code, sorted. Written as text, sixteen to a line: a table of data, not code.
    public static let activeCodes: [String] = """
        AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF
        BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF
        CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
        EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR
        ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD
        KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR
        MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK
        PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP
        SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
        TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG
        XAU XBA XBB XBC XBD XCD XDR XOF XPD XPF XPT XSU XTS XUA XXX YER
        ZAR ZMW ZWG
        """.split(whereSeparator: \.isWhitespace).map(String.init)

    /// Letters in a code.
    public static let codeLettersCount = 3
    /// Distinct three-letter upper-case codes, AAA…ZZZ: the size of the lookup bitmap, in bits.
    private static let possibleCodesCount = 26 * 26 * 26

    /// One bit per possible code, set for the active ones: a lookup is an index computation and one load.
    private static let activeCodeBits: [UInt64] = {
        var bits = [UInt64](repeating: 0, count: (possibleCodesCount + UInt64.bitWidth - 1) / UInt64.bitWidth)
        for code in activeCodes {
            let utf8 = Array(code.utf8)
            guard let index = codeIndex(utf8[0], utf8[1], utf8[2]) else {
                preconditionFailure("\(code) in the active list is three upper-case letters")
            }
            bits[index / UInt64.bitWidth] |= 1 << UInt64(index % UInt64.bitWidth)
        }
        return bits
    }()

    /// Whether `code` (its UTF-8 bytes) is an active code. Case-sensitive: "usd" is not a code.
    public static func isActiveCode(_ code: UnsafeRawBufferPointer) -> Bool {
        guard code.count == codeLettersCount, let index = codeIndex(code[0], code[1], code[2]) else { return false }
        return activeCodeBits[index / UInt64.bitWidth] & (1 << UInt64(index % UInt64.bitWidth)) != 0
    }

    /// Whether `code` is an active code. Case-sensitive: "usd" is not a code.
    public static func isActiveCode(_ code: String) -> Bool {
        var code = code
        return code.withUTF8 { isActiveCode(UnsafeRawBufferPointer($0)) }
    }

    /// The position of the code made of three upper-case ASCII letters among AAA…ZZZ, nil for other bytes.
    private static func codeIndex(_ first: UInt8, _ second: UInt8, _ third: UInt8) -> Int? {
        guard let first = letterIndex(first), let second = letterIndex(second), let third = letterIndex(third) else {
            return nil
        }
        return (first * 26 + second) * 26 + third
    }

    private static func letterIndex(_ byte: UInt8) -> Int? {
        let offset = byte &- UInt8(ascii: "A")
        return offset < 26 ? Int(offset) : nil
    }
}
