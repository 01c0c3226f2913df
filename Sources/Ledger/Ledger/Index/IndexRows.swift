import Foundation
import MessageSchema

/// The highest source offset recorded for a partition, and the LSN of that record.
public struct Watermark: Hashable, Sendable {
    public var offset: Int64
    public var lsn: UInt64

    /// Becomes `mark` when it is at this offset or past it (a later record of the same offset moves the LSN).
    mutating func raise(to mark: Watermark) {
        if mark.offset >= offset { self = mark }
    }
}

struct RecordCountKey: Hashable, Comparable {
    var kind: UInt8
    var reason: UInt8
    static func < (lhs: Self, rhs: Self) -> Bool { (lhs.kind, lhs.reason) < (rhs.kind, rhs.reason) }
}

/// Records counted per (kind, reason) since the last publish: a list searched from its start, since a batch holds
/// a handful of keys (kinds times rejection reasons: at most a few dozen) and a dictionary hashed the key at every
/// record appended.
struct RecordTally: Sequence {
    private var entries: [(key: RecordCountKey, count: Int)] = []

    mutating func add(_ key: RecordCountKey) {
        if let position = entries.firstIndex(where: { $0.key == key }) {
            entries[position].count += 1
        } else {
            entries.append((key, 1))
        }
    }

    func makeIterator() -> IndexingIterator<[(key: RecordCountKey, count: Int)]> { entries.makeIterator() }
}

/// What the index knows of one segment. All of it is derived from the segment's bytes.
public struct SegmentRow: Hashable, Sendable {
    public var firstLSN: UInt64
    public var fileName: String
    /// firstLSN - 1 for a segment with no records.
    public var lastLSN: UInt64
    public var frameCount: Int
    public var byteLength: Int64
    public var sealed: Bool
    public var previousDigest: UInt32
    /// The chain value after the last frame: the CRC of the last frame, or `previousDigest` if none.
    public var digest: UInt32
    public var createdAtMicroseconds: Int64
    public var ingestTimeRange: ClosedRange<Int64>?
    /// The range of transaction timestamps (accepted, duplicate and conflict records).
    public var eventTimeRange: ClosedRange<Int64>?

    public var recordCount: UInt64 { lastLSN + 1 - firstLSN }
}

/// Where one frame sits. (One column a field, in the `frames` table's order; alike in shape only to other
/// plain records such as the campaign's `PlannedFault`.)
struct FrameRow: Hashable {
    /// The LSN of the frame's first record; its records have consecutive LSNs.
    var firstLSN: UInt64
    /// The segment it is in, by that segment's first LSN (its file name).
    var segmentFirstLSN: UInt64
    /// Where the frame's header starts in the segment file.
    var byteOffset: Int64
    var recordCount: UInt32
    /// The payload's length as written (LZ4-compressed) and before compression.
    var storedBytes: UInt32
    var rawBytes: UInt32
    /// The frame's CRC-32C, as in its header: a reader checks the bytes it finds against the index too.
    var crc: UInt32
    var lastLSN: UInt64 { firstLSN + UInt64(recordCount) - 1 }
}

/// Facts made durable by one fsync, published together.
struct IndexBatch: Sendable {
    var segments: [SegmentRow] = []
    var frames: [FrameRow] = []
    var orders: [IndexedOrder] = []
    var watermarks = PartitionMap<Watermark>()
    var counts = RecordTally()
    var durableLSN: UInt64 = 0
    /// When set, `orders` completes the order index through this LSN.
    var ordersLSN: UInt64?

    /// Adds what `record` at `lsn` tells the index, except its order (`noteOrder`).
    mutating func note(_ record: Record, lsn: UInt64) {
        let key = TopicPartition(topic: record.source.topic, partition: record.source.partition)
        let lastOffset: Int64?
        switch record.body {
        case .gap(let lastMissing): lastOffset = lastMissing
        case .lost: lastOffset = nil  // No source: it moves no partition's watermark.
        case .accepted, .rejected, .duplicate, .conflict: lastOffset = record.source.offset
        }
        if let lastOffset {
            let mark = Watermark(offset: lastOffset, lsn: lsn)
            var raised = watermarks[key] ?? mark
            raised.raise(to: mark)
            watermarks[key] = raised
        }
        var reason: UInt8 = 0
        if case .rejected(let rejected) = record.body { reason = rejected.rejection.reason.rawValue }
        counts.add(RecordCountKey(kind: record.kind.rawValue, reason: reason))
    }

    /// Adds the order of an accepted record to the order index batch.
    mutating func noteOrder(_ record: Record, lsn: UInt64) {
        if case .accepted(let transaction) = record.body {
            orders.append((transaction.orderID, lsn, transaction.contentDigest))
        }
    }
}

extension SegmentRow {
    /// Widens the time ranges by one record.
    mutating func note(_ record: Record) {
        ingestTimeRange = Self.widen(ingestTimeRange, record.ingestTimeMicroseconds)
        if let transaction = record.transaction {
            eventTimeRange = Self.widen(eventTimeRange, transaction.timestamp.microsecondsSinceEpoch)
        }
    }

    private static func widen(_ range: ClosedRange<Int64>?, _ value: Int64) -> ClosedRange<Int64> {
        guard let range else { return value...value }
        return min(range.lowerBound, value)...max(range.upperBound, value)
    }
}
