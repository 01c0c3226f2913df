import Foundation

/// Encodes and decodes records inside a frame's payload. The byte layout is documented at the top of
/// `SegmentFormat.swift`, beside the rest of the file format.
enum RecordCodec {
    /// Encodes a record body (without its length prefix) into `writer`. A record with a value out of
    /// `RecordBounds` is refused before a byte is written: the codec never writes what it could not read back
    /// (the decoder's limits below are the same bounds) or what the warehouse would refuse. Nothing is ever
    /// shortened here: whatever is cut (keys, raw bytes, a rejection's field) is cut where the value is made.
    static func encodeBody(_ record: Record, into writer: inout ByteWriter, checkingBounds: Bool = true) throws {
        if checkingBounds, let violation = RecordBounds.violation(in: record) {
            let source = record.source
            throw LedgerError(.valueOutOfBounds, "a record the ledger could not read back or project is not stored", [
                ("reason", violation.reason), ("detail", violation.detail), ("record.kind", record.kind.description),
                ("source", "\(source.topic.debugDescription)[\(source.partition)]@\(source.offset)"),
            ])
        }
        writer.append(littleEndian: record.kind.rawValue)
        writer.appendSignedVarint(record.ingestTimeMicroseconds)
        encodeSource(record.source, into: &writer)
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

    private static func encodeSource(_ source: SourceCoordinates, into writer: inout ByteWriter) {
        writer.appendLengthPrefixed(source.topic.utf8)
        writer.appendSignedVarint(Int64(source.partition))
        writer.appendSignedVarint(source.offset)
        let presence: UInt8 = (source.kafkaTimestampMilliseconds == nil ? 0 : 1) | (source.key == nil ? 0 : 2)
        writer.append(littleEndian: presence)
        if let timestamp = source.kafkaTimestampMilliseconds { writer.appendSignedVarint(timestamp) }
        if let key = source.key { writer.appendLengthPrefixed(key) }
    }

    private static func encodeTransaction(_ transaction: Transaction, into writer: inout ByteWriter) {
        precondition(transaction.amount.rawValue > 0, "only validated transactions reach the ledger")
        writer.append(bytes: transaction.orderID.bytes)
        writer.appendVarint(UInt64(transaction.amount.rawValue))
        writer.append(bytes: transaction.currency.code.utf8)
        writer.appendSignedVarint(transaction.timestamp.microsecondsSinceEpoch)
        writer.appendSignedVarint(Int64(transaction.timestamp.originalOffsetMinutes))
        writer.appendLengthPrefixed(transaction.customerID.utf8)
        writer.appendLengthPrefixed(transaction.productCategory.utf8)
    }

    // MARK: Decoding

    /// Decodes all records of a decompressed payload; the failure names the record index and what was wrong.
    static func decodeAll(_ payload: UnsafeRawBufferPointer, expectedCount: Int) -> Result<[Record], FormatViolation> {
        var reader = ByteReader(payload)
        var records: [Record] = []
        records.reserveCapacity(expectedCount)
        while !reader.isAtEnd {
            guard records.count < expectedCount else {
                return .failure(FormatViolation("record count", expected: "\(expectedCount) records filling the payload", found: "bytes left after record \(expectedCount)"))
            }
            guard let body = reader.readLengthPrefixed(maximum: Limits.recordBytesMax), let record = decodeBody(body) else {
                return .failure(FormatViolation("record encoding", expected: "a well-formed record", found: "malformed record at index \(records.count), payload byte \(reader.position)"))
            }
            records.append(record)
        }
        guard records.count == expectedCount else {
            return .failure(FormatViolation("record count", expected: "\(expectedCount)", found: "\(records.count)"))
        }
        return .success(records)
    }

    private static func decodeBody(_ body: UnsafeRawBufferPointer) -> Record? {
        var reader = ByteReader(body)
        guard let kindByte = reader.read(UInt8.self), let kind = RecordKind(rawValue: kindByte),
              let ingestTime = reader.readSignedVarint(),
              let source = decodeSource(&reader),
              let detail = decodeDetail(kind, &reader),
              reader.isAtEnd
        else { return nil }
        return Record(source: source, ingestTimeMicroseconds: ingestTime, body: detail)
    }

    private static func decodeSource(_ reader: inout ByteReader) -> SourceCoordinates? {
        guard let topic = readText(&reader, maximum: Limits.topicBytesMax),
              let partition = reader.readSignedVarint(), let partition32 = Int32(exactly: partition),
              let offset = reader.readSignedVarint(),
              let presence = reader.read(UInt8.self), presence & ~3 == 0
        else { return nil }
        var timestamp: Int64?
        if presence & 1 != 0 {
            guard let value = reader.readSignedVarint() else { return nil }
            timestamp = value
        }
        var key: [UInt8]?
        if presence & 2 != 0 {
            guard let bytes = reader.readLengthPrefixed(maximum: Limits.recordKeyBytesMax) else { return nil }
            key = Array(bytes)
        }
        return SourceCoordinates(topic: topic, partition: partition32, offset: offset, kafkaTimestampMilliseconds: timestamp, key: key)
    }

    private static func decodeDetail(_ kind: RecordKind, _ reader: inout ByteReader) -> RecordBody? {
        switch kind {
        case .accepted:
            return decodeTransaction(&reader).map { .accepted($0) }
        case .duplicate, .conflict:
            guard let originalLSN = reader.readVarint(), let transaction = decodeTransaction(&reader) else { return nil }
            return kind == .duplicate ? .duplicate(transaction, originalLSN: originalLSN) : .conflict(transaction, originalLSN: originalLSN)
        case .rejected:
            return decodeRejected(&reader).map { .rejected($0) }
        case .gap:
            return reader.readSignedVarint().map { .gap(lastMissingOffset: $0) }
        case .lost:
            return .lost
        }
    }

    private static func decodeRejected(_ reader: inout ByteReader) -> RejectedMessage? {
        guard let reasonByte = reader.read(UInt8.self), let reason = RejectReason(rawValue: reasonByte),
              let field = readText(&reader, maximum: Limits.rejectionFieldBytesMax),
              let originalSize = reader.readVarint(), let originalByteCount = Int(exactly: originalSize),
              let hasRaw = reader.read(UInt8.self), hasRaw <= 1
        else { return nil }
        var raw: [UInt8]?
        if hasRaw == 1 {
            guard let bytes = reader.readLengthPrefixed(maximum: Limits.rejectedRawBytesKeptMax) else { return nil }
            raw = Array(bytes)
        }
        return RejectedMessage(rejection: Rejection(reason, field: field), rawBytes: raw, originalByteCount: originalByteCount)
    }

    private static func decodeTransaction(_ reader: inout ByteReader) -> Transaction? {
        guard let orderID = reader.readBytes(16),
              let cents = reader.readVarint(), cents > 0, cents <= UInt64(Cents.maximum.rawValue),
              let currencyBytes = reader.readBytes(3), currencyBytes.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }),
              let micros = reader.readSignedVarint(),
              let offsetMinutes = reader.readSignedVarint(), let offset16 = Int16(exactly: offsetMinutes),
              let customer = readText(&reader, maximum: Limits.textFieldBytesMax),
              let category = readText(&reader, maximum: Limits.textFieldBytesMax)
        else { return nil }
        return Transaction(
            orderID: UUID(bytes: orderID), amount: Cents(rawValue: Int64(cents)),
            currency: CurrencyCode(unchecked: String(decoding: currencyBytes, as: UTF8.self)),
            timestamp: UTCTimestamp(microsecondsSinceEpoch: micros, originalOffsetMinutes: offset16),
            customerID: customer, productCategory: category)
    }

    private static func readText(_ reader: inout ByteReader, maximum: Int) -> String? {
        guard let bytes = reader.readLengthPrefixed(maximum: maximum) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}
