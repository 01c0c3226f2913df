import Foundation
import MessageSchema

/// The original producer's stream, reproducibly: random orders across customers and categories, a few above the
/// fraud threshold, optionally salted with invalid messages (every rejection reason) and repeated order_ids.
/// Used by `ledger-tool generate`/`produce`, the demo, the tests and the benchmarks.
///
/// Repeats are what a real topic carries: half repeat a recent message (a producer's retry), half a message from
/// anywhere earlier in the stream (an upstream replay, a re-sent file); a quarter of them come with other content
/// (conflicts).
public struct MessageGenerator {
    public static let categories = [
        "electronics", "clothing", "home_garden", "books", "sports", "beauty", "toys", "grocery",
    ]
    public static let currencies = ["USD", "USD", "USD", "EUR", "GBP"]

    public var invalidRatio: Double
    public var duplicateRatio: Double
    private var random: SplitMix64
    /// Recent valid messages: each new one replaces a random one once full, so most are a few thousand old.
    private var recent: [[UInt8]] = []
    /// A uniform sample of every valid message so far (reservoir sampling, Vitter's algorithm R): far-back repeats.
    private var earlier: [[UInt8]] = []
    private var validMessages = 0
    static let recentMessagesMax = 1_024
    static let earlierSampleMessagesMax = 65_536
    /// The time the next valid message is stamped with (plus a random 0-2 s step), microseconds since the epoch.
    public var clockMicroseconds: Int64

    /// A message and what the generator meant it to be, so tests can build an oracle.
    public enum Intent: Sendable, Hashable {
        case valid
        case invalid(RejectReason)
        case duplicate
        case conflict
    }

    public init(
        seed: UInt64, invalidRatio: Double = 0, duplicateRatio: Double = 0,
        startMicroseconds: Int64 = 1_705_314_600_000_000
    ) {
        precondition(
            (0...1).contains(invalidRatio) && (0...1).contains(duplicateRatio) && invalidRatio + duplicateRatio <= 1,
            "ratios are fractions")
        self.invalidRatio = invalidRatio
        self.duplicateRatio = duplicateRatio
        random = SplitMix64(seed: seed)
        clockMicroseconds = startMicroseconds
    }

    /// The next message value (nil stands for a Kafka null value) and its intent.
    public mutating func next() -> (value: [UInt8]?, intent: Intent) {
        let roll = random.nextDouble()
        if roll < invalidRatio { return invalid() }
        if roll < invalidRatio + duplicateRatio, !recent.isEmpty {
            let pool = random.next(below: 2) == 0 ? recent : earlier
            let original = pool[random.next(below: pool.count)]
            if random.next(below: 4) == 0 { return (conflicting(original), .conflict) }
            return (original, .duplicate)
        }
        let message = valid()
        remember(message)
        return (message, .valid)
    }

    /// Keeps `message` as a candidate for later repeats. The far-back sample only when repeats are asked for: a
    /// clean stream draws no more random numbers than before repeats reached far back, so it is the same stream.
    private mutating func remember(_ message: [UInt8]) {
        if recent.count < Self.recentMessagesMax {
            recent.append(message)
        } else {
            recent[random.next(below: recent.count)] = message
        }
        guard duplicateRatio > 0 else { return }
        validMessages += 1
        if earlier.count < Self.earlierSampleMessagesMax {
            earlier.append(message)
        } else {
            let slot = random.next(below: validMessages)
            if slot < earlier.count { earlier[slot] = message }
        }
    }

    /// A valid message as the original producer wrote it.
    public mutating func valid() -> [UInt8] {
        clockMicroseconds += Int64(random.next(below: 2_000_000))
        // Mostly everyday amounts; about 5% above the 1000.00 fraud threshold, as in the original stream.
        let cents =
            random.next(below: 20) == 0 ? 100_001 + random.next(below: 900_000) : 100 + random.next(below: 99_900)
        return Array(
            json(
                orderID: uuid(), cents: cents, currency: Self.currencies[random.next(below: Self.currencies.count)],
                timestamp: RFC3339.format(microsecondsSinceEpoch: clockMicroseconds).replacingOccurrences(
                    of: ".000000Z", with: "Z"),
                customer: "cust_\(1000 + random.next(below: 9000))",
                category: Self.categories[random.next(below: Self.categories.count)]
            ).utf8)
    }

    private func json(
        orderID: String, cents: Int, currency: String, timestamp: String, customer: String, category: String
    ) -> String {
        let amount = "\(cents / 100).\(cents % 100 < 10 ? "0" : "")\(cents % 100)"
        return
            #"{"order_id": "\#(orderID)", "amount": \#(amount), "currency": "\#(currency)", "timestamp": "\#(timestamp)", "customer_id": "\#(customer)", "product_category": "\#(category)"}"#
    }

    private mutating func conflicting(_ original: [UInt8]) -> [UInt8] {
        // Same order_id, another customer: a different content for the same order.
        let text = String(decoding: original, as: UTF8.self)
        return Array(text.replacingOccurrences(of: "\"customer_id\": \"cust_", with: "\"customer_id\": \"cust_9").utf8)
    }

    /// One invalid message, cycling through the ways a producer gets it wrong.
    private mutating func invalid() -> (value: [UInt8]?, intent: Intent) {
        let good = String(decoding: valid(), as: UTF8.self)
        func replacing(_ old: String, _ new: String) -> [UInt8] {
            Array(good.replacingOccurrences(of: old, with: new).utf8)
        }
        let amountField =
            good.range(of: #""amount": [0-9.]+"#, options: .regularExpression).map { String(good[$0]) }
            ?? "\"amount\": 1.00"
        switch random.next(below: 12) {
        case 0: return (nil, .invalid(.valueNull))
        case 1: return ([], .invalid(.valueEmpty))
        case 2: return (Array(good.utf8.dropLast(5)), .invalid(.invalidJSON))
        case 3: return ([0x7B, 0xFF, 0xFE, 0x7D], .invalid(.invalidUTF8))
        case 4: return (replacing("\"order_id\": \"", "\"order_id\": \"x"), .invalid(.invalidOrderID))
        case 5: return (replacing(amountField, "\"amount\": -5.00"), .invalid(.amountNotPositive))
        case 6: return (replacing(amountField, "\"amount\": 12.345"), .invalid(.amountTooPrecise))
        case 7: return (replacing(amountField, "\"amount\": \"12.00\""), .invalid(.wrongType))
        case 8: return (replacing("\"currency\": \"", "\"currency\": \"Q"), .invalid(.unknownCurrency))
        case 9: return (replacing("Z\"", "\""), .invalid(.timestampWithoutZone))
        case 10:
            let customer =
                good.range(of: #""customer_id": "[^"]*""#, options: .regularExpression).map { String(good[$0]) } ?? ""
            return (replacing(customer, "\"customer_id\": \"\""), .invalid(.emptyField))
        default:
            return (
                replacing(", \"product_category\"", ", \"coupon\": 1, \"product_category\""), .invalid(.unknownField)
            )
        }
    }

    private mutating func uuid() -> String {
        var bytes = (0..<16).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return bytes.withUnsafeBytes { UUID(bytes: $0) }.uuidString.lowercased()
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, so a seed reproduces a stream exactly.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next(below bound: Int) -> Int {
        precondition(bound > 0, "bound is positive")
        return Int(next() % UInt64(bound))
    }

    public mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// A generator for a randomized test: seeded from LEDGER_TEST_SEED when it is set (to replay a failure),
    /// else at random; the seed is printed either way.
    public static func announced(for testName: String) -> SplitMix64 {
        let seed =
            ProcessInfo.processInfo.environment["LEDGER_TEST_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 0...UInt64.max)
        print("\(testName): seed \(seed) (replay with LEDGER_TEST_SEED=\(seed))")
        return SplitMix64(seed: seed)
    }
}
