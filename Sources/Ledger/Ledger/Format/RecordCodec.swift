import Foundation
import MessageSchema
import OperatingErrors

/// Encodes and decodes records inside a frame's payload. The byte layout is documented at the top of
/// `SegmentFormat.swift`, beside the rest of the file format.
package enum RecordCodec {
    /// Encodes a record body (without its length prefix) into `writer`. A record with a value out of
    /// `RecordBounds` is refused before a byte is written: the codec never writes what it could not read back
    /// (the decoder's limits below are the same bounds) or what the warehouse would refuse. Nothing is ever
    /// shortened here: whatever is cut (keys, raw bytes, a rejection's field) is cut where the value is made.
    /// `transactionChecked`: the record's transaction was already found within bounds (`ValidatedMessage`, on the
    /// core that validated it), so only the rest of the record is checked here.
    static func encodeBody(
        _ record: Record, into writer: inout ByteWriter, checkingBounds: Bool = true, transactionChecked: Bool = false
    ) throws {
        if checkingBounds,
            let violation = transactionChecked
                ? RecordBounds.violation(outsideTransactionOf: record) : RecordBounds.violation(in: record)
        {
            throw outOfBounds(violation, record)
        }
        writer.append(littleEndian: record.kind.rawValue)
        writer.appendSignedVarint(record.ingestTimeMicroseconds)
        encodeSource(record.source, extraMembers: record.transaction?.extraMembers, into: &writer)
        switch record.body {
        case .accepted(let transaction):
            encodeTransaction(transaction, into: &writer)
        case .duplicate(let transaction, let originalLSN), .conflict(let transaction, let originalLSN):
            writer.appendVarint(originalLSN)
            encodeTransaction(transaction, into: &writer)
        case .rejected(let rejected):
            writer.append(littleEndian: rejected.rejection.reason.rawValue)
            writer.appendLengthPrefixed(rejected.rejection.field.utf8)
            writer.appendVarint(UInt64(rejected.originalByteCount))
            if let raw = rejected.rawBytes {
                writer.append(littleEndian: UInt8(1))
                writer.appendLengthPrefixed(raw)
            } else {
                writer.append(littleEndian: UInt8(0))
            }
        case .gap(let lastMissingOffset):
            writer.appendSignedVarint(lastMissingOffset)
        case .lost:
            break
        }
    }

    /// The refusal of a record with a value out of `RecordBounds`.
    static func outOfBounds(_ violation: RecordBounds.Violation, _ record: Record) -> LedgerError {
        let source = record.source
        return LedgerError(
            .valueOutOfBounds, "a record the ledger could not read back or project is not stored",
            [
                ("reason", violation.reason), ("detail", violation.detail), ("record.kind", record.kind.description),
                ("source", "\(source.topic.debugDescription)[\(source.partition)]@\(source.offset)"),
            ])
    }

    private static func encodeSource(
        _ source: SourceCoordinates, extraMembers: String?, into writer: inout ByteWriter
    ) {
        writer.appendLengthPrefixed(source.topic.utf8)
        writer.appendSignedVarint(Int64(source.partition))
        writer.appendSignedVarint(source.offset)
        let presence: UInt8 =
            (source.kafkaTimestampMilliseconds == nil ? 0 : 1) | (source.key == nil ? 0 : 2)
            | (source.headers.isEmpty ? 0 : 4) | (extraMembers == nil ? 0 : 8)
        writer.append(littleEndian: presence)
        if let timestamp = source.kafkaTimestampMilliseconds { writer.appendSignedVarint(timestamp) }
        if let key = source.key { writer.appendLengthPrefixed(key) }
        if !source.headers.isEmpty {
            writer.appendVarint(UInt64(source.headers.count))
            for header in source.headers {
                writer.appendLengthPrefixed(header.name)
                if let value = header.value {
                    writer.append(littleEndian: UInt8(1))
                    writer.appendLengthPrefixed(value)
                } else {
                    writer.append(littleEndian: UInt8(0))
                }
            }
        }
        if let extraMembers { writer.appendLengthPrefixed(extraMembers.utf8) }
    }

    private static func encodeTransaction(_ transaction: Transaction, into writer: inout ByteWriter) {
        precondition(transaction.amount.rawValue > 0, "only validated transactions reach the ledger")
        withUnsafeBytes(of: transaction.orderID.uuid) { writer.append(bytes: $0) }
        writer.appendVarint(UInt64(transaction.amount.rawValue))
        writer.append(bytes: transaction.currency.code.utf8)
        writer.appendSignedVarint(transaction.timestamp.microsecondsSinceEpoch)
        writer.appendSignedVarint(Int64(transaction.timestamp.originalOffsetMinutes))
        writer.appendLengthPrefixed(transaction.customerID.utf8)
        writer.appendLengthPrefixed(transaction.productCategory.utf8)
    }

    // MARK: Decoding

    /// Decodes all records of a decompressed payload; the failure names the record index and what was wrong.
    package static func decodeAll(_ payload: UnsafeRawBufferPointer, expectedCount: Int) -> Result<
        [Record], FormatViolation
    > {
        var records: [Record] = []
        records.reserveCapacity(expectedCount)
        if let violation = RecordDecoder(sink: RecordBuilder()).forEach(
            in: payload, expectedCount: expectedCount, { records.append($0) })
        {
            return .failure(violation)
        }
        return .success(records)
    }

    /// Checks that a payload decodes, by the decoder's own rules (every length, range and UTF-8 text), without
    /// building its records: what the writer runs on every frame before writing it. Nil when it decodes.
    package static func check(_ payload: UnsafeRawBufferPointer, expectedCount: Int) -> FormatViolation? {
        RecordDecoder(sink: RecordChecker()).forEach(in: payload, expectedCount: expectedCount) { _ in }
    }
}

/// What the decoder makes of the fields it has read and checked. `RecordBuilder` makes records; `RecordChecker`
/// makes nothing (every value is `Void`), so that the writer's check of every frame costs a fraction of a decode:
/// building the records' strings, arrays and enum payloads was most of a decode's cost. Both go through the one
/// `RecordDecoder`, so the layout is written once, and the segment fuzzer asserts that they accept the same bytes.
private protocol RecordSink {
    associatedtype Text
    associatedtype Source
    associatedtype TransactionValue
    associatedtype RejectedValue
    associatedtype Output

    /// Text whose bytes are valid UTF-8; nil when they are not.
    func text(_ bytes: UnsafeRawBufferPointer) -> Text?
    func source(
        topic: Text, partition: Int32, offset: Int64, timestamp: Int64?, key: UnsafeRawBufferPointer?,
        headers: HeaderSpans?
    ) -> Source
    func transaction(
        orderID: UnsafeRawBufferPointer, cents: Int64, currency: UnsafeRawBufferPointer, microseconds: Int64,
        offsetMinutes: Int16,
        customer: Text, category: Text
    ) -> TransactionValue
    func rejected(reason: RejectReason, field: Text, originalByteCount: Int, raw: UnsafeRawBufferPointer?)
        -> RejectedValue
    func record(
        ingestTime: Int64, source: Source, extraMembers: Text?, detail: DecodedDetail<TransactionValue, RejectedValue>
    ) -> Output
}

/// A record's headers as the decoder checked them: `count` headers encoded in `bytes` (names, presence bytes,
/// values), read again only by a sink that builds them.
private struct HeaderSpans {
    var count: Int
    var bytes: UnsafeRawBufferPointer

    /// The headers, from bytes the decoder already checked.
    func headers() -> [MessageHeader] {
        var reader = ByteReader(bytes)
        return (0..<count).map { _ in
            let name = Array(reader.readLengthPrefixed(maximum: Limits.recordHeaderNameBytesMax)!)
            let value =
                reader.read(UInt8.self)! == 1
                ? Array(reader.readLengthPrefixed(maximum: Limits.recordHeadersBytesMax)!) : nil
            return MessageHeader(name: name, value: value)
        }
    }
}

/// A record's detail as the decoder read it: `RecordBody`'s cases, generic over the sink's values, so that the
/// checker's are `Void` and cost nothing to make (RecordBody itself holds the built values).
private enum DecodedDetail<TransactionValue, RejectedValue> {
    case accepted(TransactionValue)
    case rejected(RejectedValue)
    case duplicate(TransactionValue, originalLSN: UInt64)
    case conflict(TransactionValue, originalLSN: UInt64)
    case gap(lastMissingOffset: Int64)
    case lost
}

private struct RecordBuilder: RecordSink {
    /// The checker's validation, then a plain decode: `String(validating:as:)` is generic and not specialised in
    /// the standard library, and instantiated type metadata on every call (about a fifth of a 64 MiB recovery's
    /// time in `perf`, 2026-12-07). Both sinks now accept exactly the same bytes.
    func text(_ bytes: UnsafeRawBufferPointer) -> String? {
        UTF8Validation.isValid(bytes) ? String(decoding: bytes, as: UTF8.self) : nil
    }

    func source(
        topic: String, partition: Int32, offset: Int64, timestamp: Int64?, key: UnsafeRawBufferPointer?,
        headers: HeaderSpans?
    ) -> SourceCoordinates {
        SourceCoordinates(
            topic: topic, partition: partition, offset: offset, kafkaTimestampMilliseconds: timestamp,
            key: key.map { Array($0) }, headers: headers?.headers() ?? [])
    }

    func transaction(
        orderID: UnsafeRawBufferPointer, cents: Int64, currency: UnsafeRawBufferPointer, microseconds: Int64,
        offsetMinutes: Int16,
        customer: String, category: String
    ) -> Transaction {
        Transaction(
            orderID: UUID(bytes: orderID), amount: Cents(rawValue: cents),
            currency: CurrencyCode(unchecked: String(decoding: currency, as: UTF8.self)),
            timestamp: UTCTimestamp(microsecondsSinceEpoch: microseconds, originalOffsetMinutes: offsetMinutes),
            customerID: customer, productCategory: category)
    }

    func rejected(reason: RejectReason, field: String, originalByteCount: Int, raw: UnsafeRawBufferPointer?)
        -> RejectedMessage
    {
        RejectedMessage(
            rejection: Rejection(reason, field: field), rawBytes: raw.map { Array($0) },
            originalByteCount: originalByteCount)
    }

    func record(
        ingestTime: Int64, source: SourceCoordinates, extraMembers: String?,
        detail: DecodedDetail<Transaction, RejectedMessage>
    ) -> Record {
        func kept(_ transaction: Transaction) -> Transaction {
            var transaction = transaction
            transaction.extraMembers = extraMembers
            return transaction
        }
        let body: RecordBody =
            switch detail {
            case .accepted(let transaction): .accepted(kept(transaction))
            case .rejected(let rejected): .rejected(rejected)
            case .duplicate(let transaction, let originalLSN): .duplicate(kept(transaction), originalLSN: originalLSN)
            case .conflict(let transaction, let originalLSN): .conflict(kept(transaction), originalLSN: originalLSN)
            case .gap(let lastMissingOffset): .gap(lastMissingOffset: lastMissingOffset)
            case .lost: .lost
            }
        return Record(source: source, ingestTimeMicroseconds: ingestTime, body: body)
    }
}

private struct RecordChecker: RecordSink {
    func text(_ bytes: UnsafeRawBufferPointer) -> Void? { UTF8Validation.isValid(bytes) ? () : nil }
    func source(
        topic: Void, partition: Int32, offset: Int64, timestamp: Int64?, key: UnsafeRawBufferPointer?,
        headers: HeaderSpans?
    ) {}
    func transaction(
        orderID: UnsafeRawBufferPointer, cents: Int64, currency: UnsafeRawBufferPointer, microseconds: Int64,
        offsetMinutes: Int16,
        customer: Void, category: Void
    ) {}
    func rejected(reason: RejectReason, field: Void, originalByteCount: Int, raw: UnsafeRawBufferPointer?) {}
    func record(ingestTime: Int64, source: Void, extraMembers: Void?, detail: DecodedDetail<Void, Void>) {}
}

/// The record decoder: the layout documented at the top of `SegmentFormat.swift`, read and checked field by
/// field, handed to `sink`.
private struct RecordDecoder<Sink: RecordSink> {
    let sink: Sink

    /// Calls `each` with every record of the payload, in order; the violation when one does not decode.
    func forEach(in payload: UnsafeRawBufferPointer, expectedCount: Int, _ each: (Sink.Output) -> Void)
        -> FormatViolation?
    {
        var reader = ByteReader(payload)
        var count = 0
        while !reader.isAtEnd {
            guard count < expectedCount else {
                return FormatViolation(
                    "record count", expected: "\(expectedCount) records filling the payload",
                    found: "bytes left after record \(expectedCount)")
            }
            guard let body = reader.readLengthPrefixed(maximum: Limits.recordBytesMax), let record = decodeBody(body)
            else {
                return FormatViolation(
                    "record encoding", expected: "a well-formed record",
                    found: "malformed record at index \(count), payload byte \(reader.position)")
            }
            each(record)
            count += 1
        }
        guard count == expectedCount else {
            return FormatViolation("record count", expected: "\(expectedCount)", found: "\(count)")
        }
        return nil
    }

    private func decodeBody(_ body: UnsafeRawBufferPointer) -> Sink.Output? {
        var reader = ByteReader(body)
        guard let kindByte = reader.read(UInt8.self), let kind = RecordKind(rawValue: kindByte),
            let ingestTime = reader.readSignedVarint(),
            let (source, extraMembers) = decodeSource(&reader, holdsTransaction: kind.holdsTransaction),
            let detail = decodeDetail(kind, &reader),
            reader.isAtEnd
        else { return nil }
        return sink.record(ingestTime: ingestTime, source: source, extraMembers: extraMembers, detail: detail)
    }

    /// The source, and the extra members (presence bit 3) of a record whose detail holds a transaction.
    private func decodeSource(_ reader: inout ByteReader, holdsTransaction: Bool) -> (Sink.Source, Sink.Text?)? {
        guard let topic = readText(&reader, maximum: Limits.topicBytesMax),
            let partition = reader.readSignedVarint(), let partition32 = Int32(exactly: partition),
            let offset = reader.readSignedVarint(),
            let presence = reader.read(UInt8.self), presence & ~15 == 0, holdsTransaction || presence & 8 == 0
        else { return nil }
        var timestamp: Int64?
        if presence & 1 != 0 {
            guard let value = reader.readSignedVarint() else { return nil }
            timestamp = value
        }
        var key: UnsafeRawBufferPointer?
        if presence & 2 != 0 {
            guard let bytes = reader.readLengthPrefixed(maximum: Limits.recordKeyBytesMax) else { return nil }
            key = bytes
        }
        var headers: HeaderSpans?
        if presence & 4 != 0 {
            guard let spans = decodeHeaders(&reader) else { return nil }
            headers = spans
        }
        var extraMembers: Sink.Text?
        if presence & 8 != 0 {
            guard let text = readText(&reader, maximum: Limits.extraMembersBytesMax) else { return nil }
            extraMembers = text
        }
        let source = sink.source(
            topic: topic, partition: partition32, offset: offset, timestamp: timestamp, key: key, headers: headers)
        return (source, extraMembers)
    }

    /// `count:v` (1...`Limits.recordHeadersMax`) headers, each `name:bytes has-value:u8 [value:bytes]`, names at most
    /// `Limits.recordHeaderNameBytesMax` and names and values together at most `Limits.recordHeadersBytesMax`.
    private func decodeHeaders(_ reader: inout ByteReader) -> HeaderSpans? {
        guard let count = reader.readVarint(), (1...UInt64(Limits.recordHeadersMax)).contains(count) else { return nil }
        let start = reader.position
        var bytes = 0
        for _ in 0..<count {
            guard let name = reader.readLengthPrefixed(maximum: Limits.recordHeaderNameBytesMax),
                let hasValue = reader.read(UInt8.self), hasValue <= 1
            else { return nil }
            bytes += name.count
            if hasValue == 1 {
                guard let value = reader.readLengthPrefixed(maximum: Limits.recordHeadersBytesMax) else { return nil }
                bytes += value.count
            }
            guard bytes <= Limits.recordHeadersBytesMax else { return nil }
        }
        return HeaderSpans(
            count: Int(count), bytes: UnsafeRawBufferPointer(rebasing: reader.bytes[start..<reader.position]))
    }

    private func decodeDetail(_ kind: RecordKind, _ reader: inout ByteReader) -> DecodedDetail<
        Sink.TransactionValue, Sink.RejectedValue
    >? {
        switch kind {
        case .accepted:
            return decodeTransaction(&reader).map { .accepted($0) }
        case .duplicate, .conflict:
            guard let originalLSN = reader.readVarint(), let transaction = decodeTransaction(&reader) else {
                return nil
            }
            return kind == .duplicate
                ? .duplicate(transaction, originalLSN: originalLSN) : .conflict(transaction, originalLSN: originalLSN)
        case .rejected:
            return decodeRejected(&reader).map { .rejected($0) }
        case .gap:
            return reader.readSignedVarint().map { .gap(lastMissingOffset: $0) }
        case .lost:
            return .lost
        }
    }

    private func decodeRejected(_ reader: inout ByteReader) -> Sink.RejectedValue? {
        guard let reasonByte = reader.read(UInt8.self), let reason = RejectReason(rawValue: reasonByte),
            let field = readText(&reader, maximum: MessageLimits.rejectionFieldBytesMax),
            let originalSize = reader.readVarint(), let originalByteCount = Int(exactly: originalSize),
            let hasRaw = reader.read(UInt8.self), hasRaw <= 1
        else { return nil }
        var raw: UnsafeRawBufferPointer?
        if hasRaw == 1 {
            guard let bytes = reader.readLengthPrefixed(maximum: Limits.rejectedRawBytesKeptMax) else { return nil }
            raw = bytes
        }
        return sink.rejected(reason: reason, field: field, originalByteCount: originalByteCount, raw: raw)
    }

    private func decodeTransaction(_ reader: inout ByteReader) -> Sink.TransactionValue? {
        guard let orderID = reader.readBytes(16),
            let cents = reader.readVarint(), cents > 0, cents <= UInt64(Cents.maximum.rawValue),
            let currency = reader.readBytes(3), currency.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }),
            let microseconds = reader.readSignedVarint(),
            let offsetMinutes = reader.readSignedVarint(), let offset16 = Int16(exactly: offsetMinutes),
            let customer = readText(&reader, maximum: MessageLimits.textFieldBytesMax),
            let category = readText(&reader, maximum: MessageLimits.textFieldBytesMax)
        else { return nil }
        return sink.transaction(
            orderID: orderID, cents: Int64(cents), currency: currency, microseconds: microseconds,
            offsetMinutes: offset16,
            customer: customer, category: category)
    }

    private func readText(_ reader: inout ByteReader, maximum: Int) -> Sink.Text? {
        guard let bytes = reader.readLengthPrefixed(maximum: maximum) else { return nil }
        return sink.text(bytes)
    }
}
