import Foundation
import MessageSchema
import OperatingErrors

/// What became of one consumed message.
public enum AppendOutcome: Sendable, Hashable {
    /// Recorded at `lsn` as `kind`; `rejection` says why for rejected and conflicting messages.
    case appended(lsn: UInt64, kind: RecordKind, rejection: Rejection?)
    /// The ledger already holds this (topic, partition, offset): nothing was appended (exactly once per offset).
    case alreadyRecorded(watermark: Int64)
}

/// A message value as the appender needs it: validated, and for a valid order its content digest. Made on any
/// thread (`LedgerAppender.validate`): ledger-ingest makes a batch's on every core, where the digest's SHA-256
/// (11 % of the ingest thread's time on the mix when it was computed at append) costs no append time.
public struct ValidatedMessage: Sendable {
    public let result: Result<Transaction, Rejection>
    /// A valid message's order key and content digest, kept beside the result so that
    /// `LedgerAppender.prefetchOrders` reads them without copying the transaction out of the result.
    let accepted: AcceptedOrderKeys?
    /// The transaction's first value out of `RecordBounds`, which the writer would otherwise look for on the ingest
    /// thread (4 % of its time on the mix). The validator enforces the same bounds, so this is nil unless the
    /// validator has a bug: then the append refuses the record, as the writer's own check would.
    let boundsViolation: RecordBounds.Violation?

    init(_ result: Result<Transaction, Rejection>) {
        self.result = result
        let transaction = try? result.get()
        accepted = transaction.map {
            AcceptedOrderKeys(orderKey: OrderKey($0.orderID), contentDigest: $0.contentDigest)
        }
        boundsViolation = transaction.flatMap { RecordBounds.violation(in: $0) }
    }
}

/// What the writer looks a valid message's order up by and keeps of it: made with its validation (any thread).
struct AcceptedOrderKeys: Sendable {
    let orderKey: OrderKey
    let contentDigest: ContentDigest
}

/// The one path from a consumed message to a ledger record, shared by ledger-ingest and `ledger-tool import`:
/// skip offsets already recorded, validate, classify a repeated order_id as duplicate or conflict, append.
public final class LedgerAppender {
    /// The writer it appends with (tests reach it through `@testable`; callers use the appender's own API).
    let writer: LedgerWriter

    /// How messages this appender validates itself treat members outside the schema.
    public let unknownFields: UnknownFieldPolicy

    public init(writer: LedgerWriter, unknownFields: UnknownFieldPolicy = .reject) {
        self.writer = writer
        self.unknownFields = unknownFields
    }

    /// The last LSN made durable and published.
    public var durableLSN: UInt64 { writer.durableLSN }
    /// Segment bytes written since the ledger was opened.
    public var bytesWritten: Int64 { writer.bytesWritten }

    /// The highest source offset recorded for `partition`, including records not yet committed.
    public func watermark(_ partition: TopicPartition) throws -> Int64? { try writer.watermark(partition) }

    /// `value` validated, and digested when valid: what `append` takes. Thread-safe; nil is a Kafka null value.
    public static func validate(_ value: UnsafeRawBufferPointer?, unknownFields: UnknownFieldPolicy = .reject)
        -> ValidatedMessage
    {
        ValidatedMessage(MessageValidator.validate(value, unknownFields: unknownFields))
    }

    /// Brings into the cache what appending `validated` (in order, next) will look up for each valid order: its
    /// block of the order filter and its slot in the writer's table of orders not yet indexed. Optional, and changes
    /// nothing but timing: the lookups of a batch are independent, so the processor overlaps their cache misses
    /// here, where one at a time inside each append they cost the ingest thread a tenth of its time
    /// (`scripts/profile-ingest perf`).
    public func prefetchOrders(_ validated: UnsafeBufferPointer<ValidatedMessage>) {
        writer.prefetchOrders(validated.lazy.compactMap(\.accepted?.orderKey))
    }

    /// Records one message. `value` nil is a Kafka null value. The record is durable only after `commit`.
    /// `validation` is `LedgerAppender.validate(value)` when the caller already made it (ledger-ingest validates a
    /// batch on several cores); nil validates here.
    public func append(
        value: UnsafeRawBufferPointer?, source: SourceCoordinates, ingestTimeMicroseconds: Int64,
        validation: ValidatedMessage? = nil
    ) throws -> AppendOutcome {
        if let validation {
            return try append(
                value: value, source: source, ingestTimeMicroseconds: ingestTimeMicroseconds, validated: validation)
        }
        // An offset already recorded is not validated at all (a re-import of a file the ledger holds).
        if let recorded = try alreadyRecorded(source) { return recorded }
        return try append(
            value: value, source: source, ingestTimeMicroseconds: ingestTimeMicroseconds,
            validated: Self.validate(value, unknownFields: unknownFields))
    }

    /// `append` with the message's validation made already, borrowed: ledger-ingest passes each straight from its
    /// batch's buffer (an optional argument made a copy of the 184-byte value, and of its strings' references, per
    /// message).
    public func append(
        value: UnsafeRawBufferPointer?, source: SourceCoordinates, ingestTimeMicroseconds: Int64,
        validated: borrowing ValidatedMessage
    ) throws -> AppendOutcome {
        if let recorded = try alreadyRecorded(source) { return recorded }
        let body: RecordBody
        switch validated.result {
        case .failure(let rejection):
            body = Self.rejected(value, rejection)
        case .success(let transaction):
            guard let accepted = validated.accepted else { preconditionFailure("a valid message has its order keys") }
            body = try classify(transaction, accepted)
        }
        let record = Record(source: source, ingestTimeMicroseconds: ingestTimeMicroseconds, body: body)
        if let violation = validated.boundsViolation { throw RecordCodec.outOfBounds(violation, record) }
        let lsn = try writer.append(record, accepted: validated.accepted, transactionChecked: true)
        return .appended(lsn: lsn, kind: record.kind, rejection: Self.rejection(of: body))
    }

    /// `.alreadyRecorded` when the ledger holds `source`'s offset already (exactly once per offset), else nil.
    private func alreadyRecorded(_ source: SourceCoordinates) throws -> AppendOutcome? {
        let partition = TopicPartition(topic: source.topic, partition: source.partition)
        guard let watermark = try writer.watermark(partition), source.offset <= watermark else { return nil }
        return .alreadyRecorded(watermark: watermark)
    }

    public func append(value: [UInt8]?, source: SourceCoordinates, ingestTimeMicroseconds: Int64) throws
        -> AppendOutcome
    {
        guard let value else {
            return try append(
                value: nil as UnsafeRawBufferPointer?, source: source, ingestTimeMicroseconds: ingestTimeMicroseconds)
        }
        return try value.withUnsafeBytes {
            try append(value: $0, source: source, ingestTimeMicroseconds: ingestTimeMicroseconds)
        }
    }

    /// The body of a refused message: why, and its first `Limits.rejectedRawBytesKeptMax` bytes.
    package static func rejected(_ value: UnsafeRawBufferPointer?, _ rejection: Rejection) -> RecordBody {
        let raw = value.map { Array($0.prefix(Limits.rejectedRawBytesKeptMax)) }
        return .rejected(RejectedMessage(rejection: rejection, rawBytes: raw, originalByteCount: value?.count ?? 0))
    }

    /// Records that offsets `first...last` of a partition were deleted before they could be consumed.
    public func appendGap(topic: String, partition: Int32, first: Int64, last: Int64, ingestTimeMicroseconds: Int64)
        throws -> UInt64
    {
        precondition(first <= last, "a gap covers at least one offset")
        let source = SourceCoordinates(topic: topic, partition: partition, offset: first)
        return try writer.append(
            Record(source: source, ingestTimeMicroseconds: ingestTimeMicroseconds, body: .gap(lastMissingOffset: last)))
    }

    /// Makes everything appended durable; returns the durable LSN.
    @discardableResult
    public func commit() throws -> UInt64 { try writer.commit() }

    /// Commits and completes the order index (a clean stop); returns the durable LSN.
    @discardableResult
    public func close() throws -> UInt64 {
        try writer.close()
        return writer.durableLSN
    }

    /// accepted, duplicate (same content as the accepted record) or conflict (different content), decided by
    /// the content digests (`ContentDigest`): the original is never read back, so a redelivery of an order from
    /// anywhere in the ledger costs one order-index lookup.
    private func classify(_ transaction: Transaction, _ keys: AcceptedOrderKeys) throws -> RecordBody {
        guard let original = try writer.acceptedOrder(keys.orderKey) else { return .accepted(transaction) }
        return original.contentDigest == keys.contentDigest
            ? .duplicate(transaction, originalLSN: original.lsn) : .conflict(transaction, originalLSN: original.lsn)
    }

    private static func rejection(of body: RecordBody) -> Rejection? {
        switch body {
        case .rejected(let rejected): rejected.rejection
        case .conflict: Rejection(.conflictingDuplicate, field: "order_id")
        case .accepted, .duplicate, .gap, .lost: nil
        }
    }
}
