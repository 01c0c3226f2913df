import DeliveryRecord
import Foundation

/// A Kafka message's coordinates in the campaign's topic.
struct Offset: Hashable, Comparable, CustomStringConvertible {
    var partition: Int
    var offset: Int

    static func < (left: Offset, right: Offset) -> Bool {
        (left.partition, left.offset) < (right.partition, right.offset)
    }
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

/// The expected outcome, built from what the topic holds, read back from the broker once the producer is done, and
/// what the generator meant each message to be: no validator, no ledger, no warehouse.
///
/// What the producer was told is a second witness only. The development broker can write a retried produce
/// twice (librdkafka's mock cluster checks an idempotent producer's sequence numbers for transactional producers
/// only), so the producer may be acknowledged at one offset while the same message also sits at another: the
/// ledger sees both, and so must the oracle. Every acknowledged message must be in the topic at its offset.
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

    /// Every offset the topic holds, with what the generator meant its message to be ("order", or "invalid").
    private(set) var produced: [Offset: String] = [:]
    /// Invalid messages and the rejection reason the generator meant to provoke.
    private(set) var invalid: [Offset: String] = [:]
    private(set) var orders: [String: Order] = [:]
    /// The order carried by each valid, duplicate or conflicting message.
    private(set) var orderAt: [Offset: String] = [:]
    /// Per partition, the offsets holding one message more than once (same key, value and headers), in order.
    private(set) var repeatedMessages: [[Offset]] = []
    /// Offsets holding a copy of a message the producer was acknowledged for at another offset of the partition
    /// only: a retried produce the broker wrote again.
    private(set) var producerCopies: [Offset] = []
    /// Offsets holding a message the producer was acknowledged for at no offset of that partition (must be none).
    private(set) var unacknowledged: [Offset] = []
    /// Offsets the producer reported twice (must be none: each acknowledged message has its own offset).
    private(set) var reportedTwice: [Offset] = []
    /// Acknowledged offsets where the topic holds another message, or none, and acknowledgements without an
    /// offset (must be none).
    private(set) var acknowledgedElsewhere: [String] = []
    /// Offsets the broker dropped (retention) before the topic was read (must be none: the load is sized so that
    /// nothing is). The producer's acknowledgement stands in for them, so the other checks still judge them.
    private(set) var dropped: [Offset] = []

    /// What the generator meant a message to be: an order (valid, or a repeat), or invalid for a reason.
    private enum Intent: Equatable {
        case order
        case invalid(reason: String)

        var label: String {
            switch self {
            case .order: "order"
            case .invalid: "invalid"
            }
        }
    }

    private struct Acknowledgement {
        var message: TopicMessage
        var intent: Intent
    }

    init(topic: TopicContents, recordFiles: [String]) throws {
        let acknowledged = try readAcknowledgements(recordFiles)
        var intents: [TopicMessage: Intent] = [:]
        for acknowledgement in acknowledged.values {
            if let known = intents.updateValue(acknowledgement.intent, forKey: acknowledgement.message),
                known != acknowledgement.intent
            {
                throw CampaignError("the generator meant the same message to be \(known) and \(acknowledgement.intent)")
            }
        }
        var held = topic.messages
        compareWithTopic(acknowledged, topic, held: &held)
        for (offset, message) in held.sorted(by: { $0.key < $1.key }) {
            // A message nobody acknowledged anywhere: its intent is unknown, and `unacknowledged` reports it.
            guard let intent = intents[message] else {
                produced[offset] = "unknown"
                continue
            }
            try add(message, intent, at: offset)
        }
        findCopies(held, acknowledged)
    }

    /// The second witness: every acknowledged message is in the topic at its offset. An acknowledged offset below
    /// the first one a partition still holds was dropped by retention: recorded, and judged as acknowledged.
    private mutating func compareWithTopic(
        _ acknowledged: [Offset: Acknowledgement], _ topic: TopicContents, held: inout [Offset: TopicMessage]
    ) {
        for (offset, acknowledgement) in acknowledged.sorted(by: { $0.key < $1.key }) {
            if let message = held[offset] {
                if message != acknowledgement.message {
                    acknowledgedElsewhere.append("\(offset) holds another message")
                }
            } else if offset.offset < topic.firstOffsets[offset.partition] ?? .max {
                dropped.append(offset)
                held[offset] = acknowledgement.message
            } else {
                acknowledgedElsewhere.append("\(offset) is not in the topic")
            }
        }
    }

    /// The same message at several offsets of a partition; which offsets hold a copy of a message the producer was
    /// acknowledged for elsewhere in the partition, and which hold one it was never acknowledged for there.
    private mutating func findCopies(_ held: [Offset: TopicMessage], _ acknowledged: [Offset: Acknowledgement]) {
        let groups = Dictionary(
            grouping: held.keys, by: { PartitionMessage(partition: $0.partition, message: held[$0]!) })
        for offsets in groups.values {
            let sorted = offsets.sorted()
            if sorted.count > 1 { repeatedMessages.append(sorted) }
            let unacknowledgedOffsets = sorted.filter { acknowledged[$0] == nil }
            if unacknowledgedOffsets.count < sorted.count {
                producerCopies += unacknowledgedOffsets
            } else {
                unacknowledged += unacknowledgedOffsets
            }
        }
        repeatedMessages.sort { $0[0] < $1[0] }
        producerCopies.sort()
        unacknowledged.sort()
    }

    private struct PartitionMessage: Hashable {
        var partition: Int
        var message: TopicMessage
    }

    /// Every acknowledgement, by offset. One without an offset (-1001) is reported at once: librdkafka gives none
    /// only when an idempotent producer acknowledges a message implicitly, and the campaign's producer is not one.
    private mutating func readAcknowledgements(_ recordFiles: [String]) throws -> [Offset: Acknowledgement] {
        var acknowledged: [Offset: Acknowledgement] = [:]
        for path in recordFiles {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CampaignError("the delivery record \(path) is missing")
            }
            for text in data.split(separator: 0x0A) {
                let line = try DeliveryRecordLine.decode(text, in: path)
                let acknowledgement = try Self.acknowledgement(line, in: path)
                guard line.offset >= 0 else {
                    acknowledgedElsewhere.append("\(line.partition)@?: acknowledged without an offset")
                    continue
                }
                let offset = Offset(partition: line.partition, offset: line.offset)
                if acknowledged.updateValue(acknowledgement, forKey: offset) != nil { reportedTwice.append(offset) }
            }
        }
        return acknowledged
    }

    /// `ledger-tool produce` sends no headers; its key (the message's sequence number) is in the record.
    private static func acknowledgement(_ line: DeliveryRecordLine, in path: String) throws -> Acknowledgement {
        let offset = Offset(partition: line.partition, offset: line.offset)
        if (line.value != nil && line.decodedValue == nil) || (line.key != nil && line.decodedKey == nil) {
            throw CampaignError("\(path): the key or value acknowledged at \(offset) is not base64")
        }
        let message = TopicMessage(key: line.decodedKey, value: line.decodedValue, headers: Data())
        switch line.intent {
        case "invalid": return Acknowledgement(message: message, intent: .invalid(reason: line.reason ?? "?"))
        case "valid", "duplicate", "conflict":
            guard line.value != nil else {
                throw CampaignError("\(path): a \(line.intent) message without a value at \(offset)")
            }
            return Acknowledgement(message: message, intent: .order)
        default: throw CampaignError("\(path): unknown intent \(line.intent) at \(offset)")
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

    private mutating func add(_ message: TopicMessage, _ intent: Intent, at offset: Offset) throws {
        produced[offset] = intent.label
        switch intent {
        case .invalid(let reason): invalid[offset] = reason
        case .order: try addOrderMessage(message.value ?? Data(), at: offset)
        }
    }
    /// Reads the generator's own fixed format (`{"order_id": "…", "amount": 12.34, …, "timestamp": "…Z", …}`)
    /// without the project's validator: the amount as text, the UTC day as the timestamp's first 10 characters.
    private mutating func addOrderMessage(_ value: Data, at offset: Offset) throws {
        let text = String(decoding: value, as: UTF8.self)
        guard let orderID = Self.field(text, "\"order_id\": \"", until: "\""),
            let amountText = Self.field(text, "\"amount\": ", until: ","), let cents = Cents.parse(amountText),
            let timestamp = Self.field(text, "\"timestamp\": \"", until: "\""), timestamp.hasSuffix("Z")
        else {
            throw CampaignError("the generator's message at \(offset) is not in its usual form: \(text.prefix(200))")
        }
        let id = orderID.lowercased()
        var order = orders[id] ?? Order(amountCents: cents, day: String(timestamp.prefix(10)))
        guard order.amountCents == cents, order.day == String(timestamp.prefix(10)) else {
            throw CampaignError(
                "order \(id) was produced with two amounts or days: the generator only changes the customer")
        }
        order.offsetsByContent[value, default: []].append(offset)
        orders[id] = order
        orderAt[offset] = id
    }

    private static func field(_ text: String, _ prefix: String, until end: Character) -> Substring? {
        guard let start = text.range(of: prefix)?.upperBound, let stop = text[start...].firstIndex(of: end) else {
            return nil
        }
        return text[start..<stop]
    }
}
