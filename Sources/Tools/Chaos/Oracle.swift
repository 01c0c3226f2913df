import Foundation

/// A Kafka message's coordinates in the campaign's topic.
struct Offset: Hashable, Comparable, CustomStringConvertible {
    var partition: Int
    var offset: Int

    static func < (left: Offset, right: Offset) -> Bool { (left.partition, left.offset) < (right.partition, right.offset) }
    var description: String { "\(partition)@\(offset)" }
}

/// What one UTC day of the warehouse must hold: transactions, the sum of their amounts, and how many are above
/// the fraud threshold.
struct DayDigest: Equatable {
    var count = 0
    var amountCents = 0
    var fraud = 0

    var text: String { "\(count) rows, \(Cents.text(amountCents)), \(fraud) fraud" }
}

enum Cents {
    /// "1234.5" or "1234.50" → 123450; nil unless a plain decimal with at most two fraction digits.
    static func parse(_ text: Substring) -> Int? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let units = Int(parts[0]), units >= 0 else { return nil }
        guard parts.count == 2 else { return units * 100 }
        guard (1...2).contains(parts[1].count), let fraction = Int(parts[1]) else { return nil }
        return units * 100 + (parts[1].count == 1 ? fraction * 10 : fraction)
    }

    static func text(_ cents: Int) -> String { "\(cents / 100).\(String(format: "%02d", cents % 100))" }
}

/// The expected outcome, built only from what the producer recorded as acknowledged and what the generator
/// meant each message to be: no validator, no ledger, no warehouse.
struct Oracle {
    /// One produced order: every message carrying its order_id, grouped by content. The generator repeats an
    /// order either byte for byte (a duplicate) or with another customer (a conflict), so an order has one or two
    /// contents; whichever is consumed first is accepted, and the other content's messages are conflicts.
    struct Order {
        var amountCents: Int
        var day: String
        var offsetsByContent: [Data: [Offset]] = [:]
        var offsets: Set<Offset> { Set(offsetsByContent.values.joined()) }
    }

    private(set) var produced: [Offset: String] = [:]
    /// Invalid messages and the rejection reason the generator meant to provoke.
    private(set) var invalid: [Offset: String] = [:]
    private(set) var orders: [String: Order] = [:]
    /// The order carried by each valid, duplicate or conflicting message.
    private(set) var orderAt: [Offset: String] = [:]
    /// Offsets the producer reported twice (must be none: each acknowledged message has its own offset).
    private(set) var reportedTwice: [Offset] = []

    private struct Line: Decodable {
        var partition: Int
        var offset: Int
        var intent: String
        var reason: String?
        var value: String?
    }

    init(recordFiles: [String]) throws {
        let decoder = JSONDecoder()
        for path in recordFiles {
            guard let data = FileManager.default.contents(atPath: path) else { throw CampaignError("the delivery record \(path) is missing") }
            for (number, line) in data.split(separator: 0x0A).enumerated() {
                do {
                    try add(try decoder.decode(Line.self, from: line))
                } catch {
                    throw CampaignError("\(path) line \(number + 1): \(error)")
                }
            }
        }
    }

    /// Drops one produced message (`--tamper oracle`): the checks must then fail.
    mutating func forget(_ offset: Offset) {
        produced[offset] = nil
        invalid[offset] = nil
    }

    var partitionEnds: [Int: Int] {
        var ends: [Int: Int] = [:]
        for offset in produced.keys { ends[offset.partition] = max(ends[offset.partition] ?? -1, offset.offset) }
        return ends
    }

    /// Orders produced with two different contents.
    var conflictingOrders: [String: Order] { orders.filter { $0.value.offsetsByContent.count > 1 } }

    /// The warehouse per UTC day: each order once, whichever of its messages won.
    var days: [String: DayDigest] {
        var days: [String: DayDigest] = [:]
        for order in orders.values {
            days[order.day, default: DayDigest()].count += 1
            days[order.day]!.amountCents += order.amountCents
            if order.amountCents > ChaosLimits.fraudThresholdCents { days[order.day]!.fraud += 1 }
        }
        return days
    }

    private mutating func add(_ line: Line) throws {
        let offset = Offset(partition: line.partition, offset: line.offset)
        if produced[offset] != nil { reportedTwice.append(offset) }
        produced[offset] = line.intent
        switch line.intent {
        case "invalid":
            invalid[offset] = line.reason ?? "?"
        case "valid", "duplicate", "conflict":
            guard let base64 = line.value, let value = Data(base64Encoded: base64) else { throw CampaignError("a \(line.intent) message without a value") }
            try addOrderMessage(value, at: offset)
        default:
            throw CampaignError("unknown intent \(line.intent)")
        }
    }

    /// Reads the generator's own fixed format (`{"order_id": "…", "amount": 12.34, …, "timestamp": "…Z", …}`)
    /// without the project's validator: the amount as text, the UTC day as the timestamp's first 10 characters.
    private mutating func addOrderMessage(_ value: Data, at offset: Offset) throws {
        let text = String(decoding: value, as: UTF8.self)
        guard let orderID = Self.field(text, "\"order_id\": \"", until: "\""),
              let amountText = Self.field(text, "\"amount\": ", until: ","), let cents = Cents.parse(amountText),
              let timestamp = Self.field(text, "\"timestamp\": \"", until: "\""), timestamp.hasSuffix("Z") else {
            throw CampaignError("the generator's message at \(offset) is not in its usual form: \(text.prefix(200))")
        }
        let id = orderID.lowercased()
        var order = orders[id] ?? Order(amountCents: cents, day: String(timestamp.prefix(10)))
        guard order.amountCents == cents, order.day == String(timestamp.prefix(10)) else {
            throw CampaignError("order \(id) was produced with two amounts or days: the generator only changes the customer")
        }
        order.offsetsByContent[value, default: []].append(offset)
        orders[id] = order
        orderAt[offset] = id
    }

    private static func field(_ text: String, _ prefix: String, until end: Character) -> Substring? {
        guard let start = text.range(of: prefix)?.upperBound, let stop = text[start...].firstIndex(of: end) else { return nil }
        return text[start..<stop]
    }
}
