import Foundation
import Ledger
import MessageSchema
import OperatingErrors

/// Everything `ledger-tool inspect segment` reports about one segment file. Its JSON form (snake_case keys,
/// `schema` = "pulse-ledger.inspect-segment.v1") is a stable interface: fields are only ever added.
public struct SegmentInspection: Codable, Sendable {
    public static let schema = "pulse-ledger.inspect-segment.v1"

    public struct Header: Codable, Sendable {
        public var formatVersion: Int
        public var ledgerID: String
        public var firstLSN: UInt64
        public var previousDigest: String
        public var createdAt: String
    }

    public struct Frame: Codable, Sendable {
        public var offset: Int64
        public var firstLSN: UInt64
        public var lastLSN: UInt64
        public var records: Int
        public var storedBytes: Int
        public var rawBytes: Int
        /// raw bytes / stored bytes.
        public var ratio: Double
        public var crc: String
        /// Whether the frame passed every check, decoding included.
        public var checksumOK: Bool
    }

    public struct Footer: Codable, Sendable {
        public var frameCount: Int
        public var firstLSN: UInt64
        public var recordCount: UInt64
        public var digest: String
    }

    public struct Totals: Codable, Sendable {
        public var frames: Int
        public var records: Int
        public var storedBytes: Int
        public var rawBytes: Int
        public var fileBytes: Int64
        public var ratio: Double
    }

    /// The first check that failed: what, where, expected and found.
    public struct Problem: Codable, Sendable {
        public var code: String
        public var check: String
        public var offset: Int64
        public var expected: String
        public var found: String
    }

    public var schema = SegmentInspection.schema
    public var path: String
    public var header: Header
    public var frames: [Frame] = []
    public var footer: Footer?
    public var totals: Totals
    public var records: [RecordDescription]?
    public var problem: Problem?

    enum CodingKeys: String, CodingKey {
        case schema, path, header, frames, footer, totals, records
        case problem = "error"
    }

    /// Reads and checks the segment at `path`; a damaged frame ends the report with `problem` set. Throws only
    /// when the file cannot be read or its header is invalid.
    public static func inspect(path: String, includeRecords: Bool, fileSystem: any FileSystem = PosixFileSystem())
        throws -> SegmentInspection
    {
        let scanner = try SegmentScanner(file: fileSystem.openForReading(path))
        let header = scanner.header
        var report = SegmentInspection(
            path: path,
            header: Header(
                formatVersion: Int(header.version), ledgerID: header.ledgerID.text, firstLSN: header.firstLSN,
                previousDigest: hex32(header.previousSegmentDigest),
                createdAt: RFC3339.format(microsecondsSinceEpoch: header.createdAtMicroseconds)),
            totals: Totals(frames: 0, records: 0, storedBytes: 0, rawBytes: 0, fileBytes: scanner.fileSize, ratio: 0),
            records: includeRecords ? [] : nil)
        try report.scanFrames(scanner)
        report.totals.ratio =
            report.totals.storedBytes == 0 ? 0 : Double(report.totals.rawBytes) / Double(report.totals.storedBytes)
        return report
    }

    private mutating func scanFrames(_ scanner: SegmentScanner) throws {
        while true {
            switch try scanner.next() {
            case .frame(let frame):
                let decoded = frame.decodeRecords()
                add(frame, ok: decoded.isSuccess)
                switch decoded {
                case .success(let list):
                    records?.append(
                        contentsOf: list.enumerated().map {
                            RecordDescription(lsn: frame.header.firstLSN + UInt64($0.offset), $0.element)
                        })
                case .failure(let violation):
                    problem = Problem(
                        code: LedgerError.Code.corruption.name, check: violation.check, offset: frame.offset,
                        expected: violation.expected, found: violation.found)
                    return
                }
            case .sealed(let sealed, _):
                footer = Footer(
                    frameCount: Int(sealed.frameCount), firstLSN: sealed.firstLSN, recordCount: sealed.recordCount,
                    digest: hex32(sealed.digest))
                return
            case .end:
                return
            case .damaged(let offset, let violation):
                problem = Problem(
                    code: LedgerError.Code.corruption.name, check: violation.check, offset: offset,
                    expected: violation.expected, found: violation.found)
                return
            }
        }
    }

    private mutating func add(_ frame: ScannedFrame, ok: Bool) {
        let header = frame.header
        frames.append(
            Frame(
                offset: frame.offset, firstLSN: header.firstLSN, lastLSN: header.lastLSN,
                records: Int(header.recordCount),
                storedBytes: Int(header.storedLength), rawBytes: Int(header.rawLength),
                ratio: header.storedLength == 0 ? 0 : Double(header.rawLength) / Double(header.storedLength),
                crc: hex32(header.crc), checksumOK: ok))
        totals.frames += 1
        totals.records += Int(header.recordCount)
        totals.storedBytes += Int(header.storedLength)
        totals.rawBytes += Int(header.rawLength)
    }
}

/// A record in the stable JSON form used by `inspect --records`, `trace` and `dlq list`.
public struct RecordDescription: Codable, Sendable, Hashable {
    public struct Source: Codable, Sendable, Hashable {
        public var topic: String
        public var partition: Int32
        public var offset: Int64
        public var kafkaTimestampMS: Int64?
        /// The key as UTF-8 text when it is valid UTF-8, else nil (see `keyBase64`).
        public var key: String?
        public var keyBase64: String?
        /// The Kafka headers the ledger kept, in order; absent when there were none.
        public var headers: [Header]?
    }

    /// A Kafka header: the name as text, the value as text when it is valid UTF-8, else base64 (`valueBase64`);
    /// neither for a null value.
    public struct Header: Codable, Sendable, Hashable {
        public var name: String
        public var value: String?
        public var valueBase64: String?
    }

    public struct TransactionFields: Codable, Sendable, Hashable {
        public var orderID: String
        /// Exact decimal text with two fraction digits.
        public var amount: String
        public var currency: String
        /// UTC, RFC 3339 with microseconds.
        public var timestamp: String
        public var originalUTCOffsetMinutes: Int
        public var customerID: String
        public var productCategory: String
        /// The message's members outside the schema (JSON object text), kept with `--unknown-fields keep`.
        public var extraMembers: String?
    }

    public var lsn: UInt64
    public var kind: String
    public var source: Source
    public var ingestTime: String
    public var transaction: TransactionFields?
    public var originalLSN: UInt64?
    public var reason: String?
    public var field: String?
    public var rawBase64: String?
    public var originalBytes: Int?
    public var lastMissingOffset: Int64?

    public init(lsn: UInt64, _ record: Record) {
        self.lsn = lsn
        kind = record.kind.description
        let key = record.source.key
        source = Source(
            topic: record.source.topic, partition: record.source.partition, offset: record.source.offset,
            kafkaTimestampMS: record.source.kafkaTimestampMilliseconds,
            key: key.flatMap { String(validating: $0, as: UTF8.self) },
            keyBase64: key.flatMap {
                String(validating: $0, as: UTF8.self) == nil ? Data($0).base64EncodedString() : nil
            },
            headers: record.source.headers.isEmpty ? nil : record.source.headers.map(Header.init))
        ingestTime = RFC3339.format(microsecondsSinceEpoch: record.ingestTimeMicroseconds)
        transaction = record.transaction.map(TransactionFields.init)
        switch record.body {
        case .duplicate(_, let original), .conflict(_, let original): originalLSN = original
        case .rejected(let rejected):
            reason = rejected.rejection.reason.code
            field = rejected.rejection.field
            rawBase64 = rejected.rawBytes.map { Data($0).base64EncodedString() }
            originalBytes = rejected.originalByteCount
        case .gap(let last): lastMissingOffset = last
        case .accepted, .lost: break
        }
    }

    /// One line for people: "LSN 42 accepted transactions[0]@17 order … 150.99 USD".
    public var summary: String {
        var text = "LSN \(lsn) \(kind) \(source.topic)[\(source.partition)]@\(source.offset)"
        if let transaction {
            text +=
                " order \(transaction.orderID) \(transaction.amount) \(transaction.currency) \(transaction.timestamp) \(transaction.customerID) \(transaction.productCategory)"
        }
        if let originalLSN { text += " original LSN \(originalLSN)" }
        if let reason {
            text +=
                " reason \(reason)" + (field.map { $0.isEmpty ? "" : " field \($0)" } ?? "")
                + " (\(originalBytes ?? 0) bytes)"
        }
        if let lastMissingOffset { text += " missing offsets \(source.offset)...\(lastMissingOffset)" }
        return text
    }
}

extension RecordDescription.TransactionFields {
    init(_ transaction: Transaction) {
        orderID = transaction.orderID.uuidString.lowercased()
        amount = transaction.amount.description
        currency = transaction.currency.code
        timestamp = RFC3339.format(microsecondsSinceEpoch: transaction.timestamp.microsecondsSinceEpoch)
        originalUTCOffsetMinutes = Int(transaction.timestamp.originalOffsetMinutes)
        customerID = transaction.customerID
        productCategory = transaction.productCategory
        extraMembers = transaction.extraMembers
    }
}

extension RecordDescription.Header {
    init(_ header: MessageHeader) {
        name = String(decoding: header.name, as: UTF8.self)
        value = header.value.flatMap { String(validating: $0, as: UTF8.self) }
        valueBase64 = header.value.flatMap {
            String(validating: $0, as: UTF8.self) == nil ? Data($0).base64EncodedString() : nil
        }
    }
}

/// The JSON encoder of every machine-readable tool output: snake_case keys, sorted, so output is stable.
public func stableJSONEncoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return encoder
}
