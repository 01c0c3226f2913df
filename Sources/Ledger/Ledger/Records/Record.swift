import Foundation
import MessageSchema

/// Where a message came from: enough to find it again in Kafka (or in the imported file).
public struct SourceCoordinates: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// The Kafka message timestamp in milliseconds since the epoch, or nil when the broker gave none.
    public var kafkaTimestampMilliseconds: Int64?
    /// The Kafka message key, or nil for a null key; at most its first `Limits.recordKeyBytesMax` bytes (the
    /// key is informational: the message is found again by topic, partition and offset).
    public private(set) var key: [UInt8]?
    /// The Kafka message headers, in order (trace context, producer metadata), restored by `dlq replay`: the first
    /// `Limits.recordHeadersMax` of them whose names and values fit `Limits.recordHeadersBytesMax` together (like the
    /// key, they are informational; the whole message stays at its coordinates in the source topic).
    public private(set) var headers: [MessageHeader]

    public init(
        topic: String, partition: Int32, offset: Int64, kafkaTimestampMilliseconds: Int64? = nil, key: [UInt8]? = nil,
        headers: [MessageHeader] = []
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.kafkaTimestampMilliseconds = kafkaTimestampMilliseconds
        self.key = key.map { $0.count > Limits.recordKeyBytesMax ? Array($0.prefix(Limits.recordKeyBytesMax)) : $0 }
        self.headers = MessageHeader.kept(headers)
    }

    /// The source of a `lost` record: its message is unknown (empty topic, partition 0, offset 0).
    public static let unknown = SourceCoordinates(topic: "", partition: 0, offset: 0)
}

/// One Kafka message header: a name and a value, both bytes as Kafka gives them (a value may be null).
public struct MessageHeader: Sendable, Hashable {
    public var name: [UInt8]
    public var value: [UInt8]?

    public init(name: [UInt8], value: [UInt8]?) {
        self.name = name
        self.value = value
    }

    /// The headers the ledger keeps: in order, while they fit `Limits.recordHeadersMax` and, names and values
    /// together, `Limits.recordHeadersBytesMax`; a name longer than `Limits.recordHeaderNameBytesMax` ends the list.
    static func kept(_ headers: [MessageHeader]) -> [MessageHeader] {
        var kept: [MessageHeader] = []
        var bytes = 0
        for header in headers.prefix(Limits.recordHeadersMax) {
            bytes += header.name.count + (header.value?.count ?? 0)
            guard header.name.count <= Limits.recordHeaderNameBytesMax, bytes <= Limits.recordHeadersBytesMax else {
                break
            }
            kept.append(header)
        }
        return kept
    }
}

/// What the ledger says about one consumed message (or one range of offsets that could not be consumed).
public enum RecordBody: Sendable, Hashable {
    /// A valid transaction, the first for its order_id.
    case accepted(Transaction)
    /// An invalid message, kept byte for byte (up to `Limits.rejectedRawBytesKeptMax`).
    case rejected(RejectedMessage)
    /// A valid message whose order_id was already accepted at `originalLSN` with the same content.
    case duplicate(Transaction, originalLSN: UInt64)
    /// A valid message whose order_id was already accepted at `originalLSN` with different content.
    case conflict(Transaction, originalLSN: UInt64)
    /// Offsets `source.offset ... lastMissingOffset` of the source partition were gone (deleted by retention)
    /// before they could be consumed. Recorded so that every offset is accounted for.
    case gap(lastMissingOffset: Int64)
    /// The record once at this LSN was published, then found damaged, and an operator dropped it with a counted
    /// decision (`ledger-tool rebuild index --drop-durable-records`). Its message is unknown, so its source is
    /// `SourceCoordinates.unknown`. The LSN stays taken: no LSN is ever reused (DESIGN.md invariant 9).
    case lost
}

/// The raw bytes of a refused message and why it was refused.
public struct RejectedMessage: Sendable, Hashable {
    public var rejection: Rejection
    /// The message value, nil for a Kafka null value. Truncated to `Limits.rejectedRawBytesKeptMax` bytes.
    public private(set) var rawBytes: [UInt8]?
    /// The size of the message value as received, in bytes, before any truncation.
    public var originalByteCount: Int

    public init(rejection: Rejection, rawBytes: [UInt8]?, originalByteCount: Int) {
        self.rejection = rejection
        self.rawBytes = rawBytes.map {
            $0.count > Limits.rejectedRawBytesKeptMax ? Array($0.prefix(Limits.rejectedRawBytesKeptMax)) : $0
        }
        self.originalByteCount = originalByteCount
    }
}

/// The kind of a record, as stored in the ledger (one byte; values are part of the file format).
public enum RecordKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case accepted = 1
    case rejected = 2
    case duplicate = 3
    case conflict = 4
    case gap = 5
    case lost = 6

    /// Whether a record of this kind holds a transaction (accepted, duplicate, conflict).
    var holdsTransaction: Bool { self == .accepted || self == .duplicate || self == .conflict }

    /// The kind's name as stored in the warehouse and printed by the tools: spelled out, not derived from the
    /// case name, so that renaming a case can never change stored text (the same choice as `RejectReason.code`,
    /// which this switch resembles).
    public var description: String {
        switch self {
        case .accepted: "accepted"
        case .rejected: "rejected"
        case .duplicate: "duplicate"
        case .conflict: "conflict"
        case .gap: "gap"
        case .lost: "lost"
        }
    }
}

/// One entry of the ledger: what was consumed, where it came from, and when it was ingested.
public struct Record: Sendable, Hashable {
    public var source: SourceCoordinates
    /// When ledger-ingest received the message, in microseconds since the epoch (UTC).
    public var ingestTimeMicroseconds: Int64
    public var body: RecordBody

    public init(source: SourceCoordinates, ingestTimeMicroseconds: Int64, body: RecordBody) {
        self.source = source
        self.ingestTimeMicroseconds = ingestTimeMicroseconds
        self.body = body
    }

    public var kind: RecordKind {
        switch body {
        case .accepted: .accepted
        case .rejected: .rejected
        case .duplicate: .duplicate
        case .conflict: .conflict
        case .gap: .gap
        case .lost: .lost
        }
    }

    /// The transaction a valid message carried (accepted, duplicate or conflict), nil otherwise.
    public var transaction: Transaction? {
        switch body {
        case .accepted(let transaction), .duplicate(let transaction, _), .conflict(let transaction, _): transaction
        case .rejected, .gap, .lost: nil
        }
    }

    /// The record that takes a dropped LSN (`RecordBody.lost`), made at `ingestTimeMicroseconds`.
    static func lost(ingestTimeMicroseconds: Int64) -> Record {
        Record(source: .unknown, ingestTimeMicroseconds: ingestTimeMicroseconds, body: .lost)
    }
}

/// A record with its position in the ledger.
public struct LedgerEntry: Sendable, Hashable {
    public var lsn: UInt64
    public var record: Record

    // Memberwise, written out (like `AmountRule`'s) because a public struct's synthesized init is internal; this
    // one is `package`: only the reader and the tests make entries.
    package init(lsn: UInt64, record: Record) {
        self.lsn = lsn
        self.record = record
    }
}
