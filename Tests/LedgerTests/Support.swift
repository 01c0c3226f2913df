import Foundation
import LedgerTesting
import MessageSchema

@testable import Ledger

extension ScratchDirectory {
    /// Segment file paths, in LSN order.
    func segments() throws -> [String] { try SegmentFiles.list(path, fileSystem: PosixFileSystem()).map(\.path) }
}

/// Deterministic test records of every kind.
enum Sample {
    static let categories = ["electronics", "clothing", "books", "home", "sports"]

    static func transaction(_ number: Int, amountCents: Int64? = nil) -> Transaction {
        Transaction(
            orderID: orderID(number), amount: Cents(rawValue: amountCents ?? Int64(100 + number % 250_000)),
            currency: CurrencyCode(unchecked: number % 7 == 0 ? "EUR" : "USD"),
            timestamp: UTCTimestamp(
                microsecondsSinceEpoch: 1_705_314_600_000_000 + Int64(number) * 1_000_000,
                originalOffsetMinutes: number % 3 == 0 ? 330 : 0),
            customerID: "cust_\(number % 977)", productCategory: categories[number % categories.count])
    }

    /// A UUID derived from `number`, so tests can name orders.
    static func orderID(_ number: Int) -> UUID {
        var bytes = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: UInt64(number).bigEndian) { bytes.replaceSubrange(8..<16, with: $0) }
        bytes[6] = 0x40
        bytes[8] |= 0x80
        return bytes.withUnsafeBytes { UUID(bytes: $0) }
    }

    static func source(offset: Int64, partition: Int32 = 0, topic: String = "transactions") -> SourceCoordinates {
        SourceCoordinates(
            topic: topic, partition: partition, offset: offset, kafkaTimestampMilliseconds: 1_705_314_600_000 + offset,
            key: offset % 5 == 0 ? nil : Array("key-\(offset)".utf8))
    }

    /// Record number `number`: mostly accepted, with every other kind mixed in.
    static func record(_ number: Int, partition: Int32 = 0) -> Record {
        let source = source(offset: Int64(number), partition: partition)
        let ingest = 1_705_314_700_000_000 + Int64(number)
        switch number % 10 {
        case 3:
            let raw = Array("{\"order_id\": \(number)}".utf8)
            return Record(
                source: source, ingestTimeMicroseconds: ingest,
                body: .rejected(
                    RejectedMessage(
                        rejection: Rejection(.wrongType, field: "order_id"), rawBytes: raw, originalByteCount: raw.count
                    )))
        case 5:
            return Record(
                source: source, ingestTimeMicroseconds: ingest,
                body: .duplicate(transaction(number - 1), originalLSN: UInt64(number)))
        case 7:
            return Record(
                source: source, ingestTimeMicroseconds: ingest, body: .conflict(transaction(number), originalLSN: 3))
        case 9 where number % 20 == 9:
            return Record(
                source: source, ingestTimeMicroseconds: ingest,
                body: .rejected(RejectedMessage(rejection: Rejection(.valueNull), rawBytes: nil, originalByteCount: 0)))
        default:
            return Record(source: source, ingestTimeMicroseconds: ingest, body: .accepted(transaction(number)))
        }
    }

    /// A valid JSON message for order `number`.
    static func json(_ number: Int, amount: String = "150.99") -> [UInt8] {
        Array(
            """
            {"order_id":"\(orderID(number).uuidString.lowercased())","amount":\(amount),"currency":"USD","timestamp":"2024-01-15T10:30:00Z","customer_id":"cust_\(number % 97)","product_category":"electronics"}
            """.utf8)
    }
}

extension LedgerWriter {
    /// Appends records `range` (as `Sample.record`) and commits every `perCommit` records.
    func appendSamples(_ range: Range<Int>, perCommit: Int = 100, close closing: Bool = true) throws {
        for number in range {
            try append(Sample.record(number))
            if (number + 1) % perCommit == 0 { try commit() }
        }
        if closing { try close() } else { try commit() }
    }
}

func flipBit(_ path: String, at offset: Int, bit: UInt8 = 0x10) throws {
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    try handle.seek(toOffset: UInt64(offset))
    let byte = try handle.read(upToCount: 1)![0]
    try handle.seek(toOffset: UInt64(offset))
    try handle.write(contentsOf: [byte ^ bit])
    try handle.close()
}

func truncateFile(_ path: String, to length: Int) throws {
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    try handle.truncate(atOffset: UInt64(length))
    try handle.close()
}

func fileSize(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber).intValue
}

extension LedgerAppender {
    /// Appends order `order`'s message (`Sample.json`) at `offset` and says what the ledger recorded it as.
    func kindOfAppending(order: Int, amount: String = "150.99", offset: Int64, partition: Int32 = 0) throws
        -> RecordKind
    {
        let outcome = try append(
            value: Sample.json(order, amount: amount), source: Sample.source(offset: offset, partition: partition),
            ingestTimeMicroseconds: 0)
        return try kind(outcome)
    }
}

/// What the ledger recorded a message as; throws when it recorded nothing (an offset already in the ledger).
func kind(_ outcome: AppendOutcome) throws -> RecordKind {
    guard case .appended(_, let kind, _) = outcome else { throw LedgerError(.invalidArgument, "not appended") }
    return kind
}

/// A ledger of sample records 0..<`count` over many small segments (`segmentBytes` each), committed every
/// `perCommit`: the start of the recovery cases that damage one segment among several.
func ledgerOfSmallSegments(_ count: Int = 300, segmentBytes: Int = 2048, perCommit: Int = 20) throws
    -> ScratchDirectory
{
    let directory = ScratchDirectory()
    try LedgerWriter(directory: directory.path, options: LedgerOptions(segmentBytesTarget: segmentBytes))
        .appendSamples(0..<count, perCommit: perCommit)
    return directory
}
