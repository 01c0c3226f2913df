import Foundation
import Ledger
import LedgerTesting
import MessageSchema
import Projector

/// A ledger filled the way ledger-ingest fills one: the original producer's stream (`MessageGenerator`) through
/// `LedgerAppender`, with Kafka-like coordinates. Keeps an independent oracle of what the warehouse must hold,
/// computed from the generated JSON text, and per-LSN running counts of what the ledger recorded.
///
/// @unchecked Sendable: a test hands it to one writer thread at a time and reads it only after joining that thread.
final class GeneratedLedger: @unchecked Sendable {
    let directory: String
    let topic: String
    let partition: Int32
    private var writer: LedgerWriter?
    private var appender: LedgerAppender?
    private var generator: MessageGenerator
    private(set) var oracle = Oracle()
    private(set) var nextOffset: Int64 = 1
    /// Index = LSN: how many accepted (row) and rejected-or-conflict (rejected_messages) records the ledger holds
    /// up to that LSN. Index 0 is the empty ledger.
    private(set) var rowsThrough: [Int] = [0]
    private(set) var rejectionsThrough: [Int] = [0]
    /// The ingest time given to the message at each offset: strictly increasing, so `--until TIMESTAMP` is exact.
    static func ingestMicroseconds(offset: Int64) -> Int64 { 1_767_225_600_000_000 + offset * 1_000 }

    init(
        directory: String, seed: UInt64, invalidRatio: Double = 0.02, duplicateRatio: Double = 0.02,
        topic: String = "transactions", partition: Int32 = 0, segmentBytes: Int = Limits.segmentBytesTarget
    ) throws {
        self.directory = directory
        self.topic = topic
        self.partition = partition
        generator = MessageGenerator(seed: seed, invalidRatio: invalidRatio, duplicateRatio: duplicateRatio)
        let writer = try LedgerWriter(directory: directory, options: LedgerOptions(segmentBytesTarget: segmentBytes))
        self.writer = writer
        ledgerID = writer.ledgerID
        appender = LedgerAppender(writer: writer)
    }

    let ledgerID: UUID
    var durableLSN: UInt64 { writer?.durableLSN ?? UInt64(rowsThrough.count - 1) }

    /// Appends `count` generated messages, committing (fsync, publish) every `commitEvery`.
    func append(_ count: Int, commitEvery: Int = 1000) throws {
        guard let appender else { preconditionFailure("the ledger was closed") }
        for index in 0..<count {
            let (value, intent) = generator.next()
            try append(value, intent: intent, appender: appender)
            if (index + 1) % commitEvery == 0 { try appender.commit() }
        }
        try appender.commit()
    }

    /// The messages the generator makes next, without appending them (to feed several ledgers the same stream).
    func generate(_ count: Int) -> [(value: [UInt8]?, intent: MessageGenerator.Intent)] {
        (0..<count).map { _ in generator.next() }
    }

    /// Appends given messages at given offsets (a second ingest instance re-reading a partition).
    func append(_ messages: [(value: [UInt8]?, intent: MessageGenerator.Intent)], fromOffset first: Int64) throws {
        guard let appender else { preconditionFailure("the ledger was closed") }
        nextOffset = first
        for message in messages { try append(message.value, intent: message.intent, appender: appender) }
        try appender.commit()
    }

    private func append(_ value: [UInt8]?, intent: MessageGenerator.Intent, appender: LedgerAppender) throws {
        let source = SourceCoordinates(topic: topic, partition: partition, offset: nextOffset)
        let outcome = try appender.append(
            value: value, source: source, ingestTimeMicroseconds: Self.ingestMicroseconds(offset: nextOffset))
        nextOffset += 1
        guard case .appended(let lsn, let kind, _) = outcome else { return }
        precondition(lsn == UInt64(rowsThrough.count), "LSNs are consecutive")
        rowsThrough.append(rowsThrough.last! + (kind == .accepted ? 1 : 0))
        rejectionsThrough.append(rejectionsThrough.last! + (kind == .rejected || kind == .conflict ? 1 : 0))
        oracle.note(value, intent)
    }

    /// Releases the writer's lock (ledger-tool and rebuilds open the ledger read-only anyway).
    func close() {
        appender = nil
        writer = nil
    }
}

/// What the warehouse must hold for a generated stream, computed from the JSON text alone: not from the ledger's
/// validator nor the projector's transform. Money in Foundation `Decimal`, tax rounded half-up with
/// `NSDecimalRound(.plain)`, days from the timestamp's text (the generator writes UTC).
struct Oracle {
    struct Day: Equatable, CustomStringConvertible {
        var count = 0
        var amount = Decimal(0)
        var tax = Decimal(0)
        var total = Decimal(0)
        var flagged = 0
        var description: String { "count \(count) amount \(amount) tax \(tax) total \(total) flagged \(flagged)" }
    }

    var days: [String: Day] = [:]
    var rejected = 0
    var duplicates = 0
    var orderIDs: Set<String> = []

    static let threshold = Decimal(string: "1000.00")!
    static let rate = Decimal(string: "0.085")!

    mutating func note(_ value: [UInt8]?, _ intent: MessageGenerator.Intent) {
        switch intent {
        case .valid: add(String(decoding: value ?? [], as: UTF8.self))
        case .duplicate: duplicates += 1
        case .conflict, .invalid: rejected += 1
        }
    }

    private mutating func add(_ json: String) {
        let amount = Decimal(string: Self.field(json, #""amount": ([0-9]+\.[0-9]{2})"#))!
        let timestamp = Self.field(json, #""timestamp": "([^"]+)""#)
        precondition(timestamp.hasSuffix("Z"), "the generator writes UTC")
        orderIDs.insert(Self.field(json, #""order_id": "([^"]+)""#))
        let tax = Self.tax(amount)
        var day = days[String(timestamp.prefix(10)), default: Day()]
        day.count += 1
        day.amount += amount
        day.tax += tax
        day.total += amount + tax
        day.flagged += amount > Self.threshold ? 1 : 0
        days[String(timestamp.prefix(10))] = day
    }

    static func tax(_ amount: Decimal) -> Decimal {
        var product = amount * rate
        var rounded = Decimal()
        NSDecimalRound(&rounded, &product, 2, .plain)
        return rounded
    }

    private static func field(_ json: String, _ pattern: String) -> String {
        let expression = try! NSRegularExpression(pattern: pattern)
        let match = expression.firstMatch(in: json, range: NSRange(json.startIndex..., in: json))!
        return String(json[Range(match.range(at: 1), in: json)!])
    }
}

/// A ledger written record by record, for hand-made edge cases: every kind, any value.
/// A test's usual start: a scratch directory, a fresh warehouse schema (dropped afterwards), and an empty
/// hand-made ledger at `scratch.file("ledger")`.
func withHandLedger(_ body: (HandLedger, WarehouseSchema, ScratchDirectory) throws -> Void) throws {
    let scratch = ScratchDirectory()
    try TestPostgres.withSchema { schema in
        try body(try HandLedger(directory: scratch.file("ledger")), schema, scratch)
    }
}

/// The same with an empty generated ledger, whose stream the seed determines.
func withGeneratedLedger(seed: UInt64, _ body: (GeneratedLedger, WarehouseSchema, ScratchDirectory) throws -> Void)
    throws
{
    let scratch = ScratchDirectory()
    try TestPostgres.withSchema { schema in
        try body(try GeneratedLedger(directory: scratch.file("ledger"), seed: seed), schema, scratch)
    }
}

final class HandLedger {
    let directory: String
    private var writer: LedgerWriter?
    private var offset: Int64
    var topic = "transactions"

    /// `firstOffset`: the Kafka offset of the first record (a second ledger takes other offsets of the partition).
    /// `outOfBounds`: write values the writer now refuses (NUL in text, years outside 1-9999), as binaries before
    /// `RecordBounds` did: the ledgers `--quarantine` is for.
    init(directory: String, firstOffset: Int64 = 1, outOfBounds: Bool = false) throws {
        self.directory = directory
        offset = firstOffset - 1
        var options = LedgerOptions()
        options.writesValuesOutOfBounds = outOfBounds
        let writer = try LedgerWriter(directory: directory, options: options)
        self.writer = writer
        ledgerID = writer.ledgerID
    }

    let ledgerID: UUID

    @discardableResult
    func append(_ body: RecordBody, ingestMicroseconds: Int64? = nil) throws -> UInt64 {
        offset += 1
        let source = SourceCoordinates(
            topic: topic, partition: 0, offset: offset, kafkaTimestampMilliseconds: 1_705_314_600_000 + offset,
            key: Array("k\(offset)".utf8))
        return try writer!.append(
            Record(
                source: source, ingestTimeMicroseconds: ingestMicroseconds ?? (1_767_225_600_000_000 + offset),
                body: body))
    }

    @discardableResult
    func accept(_ transaction: Transaction) throws -> UInt64 { try append(.accepted(transaction)) }

    /// Skips `count` offsets, recorded as a gap (retention deleted them).
    func gap(_ count: Int64) throws {
        offset += 1
        let source = SourceCoordinates(topic: topic, partition: 0, offset: offset)
        try writer!.append(
            Record(
                source: source, ingestTimeMicroseconds: 1_767_225_600_000_000 + offset,
                body: .gap(lastMissingOffset: offset + count - 1)))
        offset += count - 1
    }

    func commit() throws { try writer!.commit() }

    func close() throws {
        try commit()
        writer = nil
    }

    /// A transaction named by `number` (its order_id derives from it).
    static func transaction(
        _ number: Int, cents: Int64, microseconds: Int64, offsetMinutes: Int16 = 0, customer: String = "cust_1",
        category: String = "books", currency: String = "USD"
    ) -> Transaction {
        Transaction(
            orderID: orderID(number), amount: Cents(rawValue: cents), currency: CurrencyCode(unchecked: currency),
            timestamp: UTCTimestamp(microsecondsSinceEpoch: microseconds, originalOffsetMinutes: offsetMinutes),
            customerID: customer, productCategory: category)
    }

    static func orderID(_ number: Int) -> UUID {
        UUID(uuidString: String(format: "00000000-0000-4000-8000-%012x", number))!
    }
}

/// Microseconds since 1970 of a wall-clock time at a UTC offset, computed with Foundation's calendar (independent
/// of the ledger's and the projector's own date code).
func microseconds(
    _ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0, micro: Int = 0,
    offsetMinutes: Int = 0
) -> Int64 {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(secondsFromGMT: offsetMinutes * 60)!
    let date = calendar.date(
        from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))!
    return Int64(date.timeIntervalSince1970.rounded()) * 1_000_000 + Int64(micro)
}
