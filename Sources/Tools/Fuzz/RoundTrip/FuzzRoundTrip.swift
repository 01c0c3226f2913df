// libFuzzer target across every seam from Kafka bytes to a warehouse row (see scripts/fuzz): validate → record
// → frame (encode, compress, check) → read back as a reader does → projector transform → COPY encoding.
// A fuzzer that feeds the validator alone cannot see a record the codec writes and cannot read back (issue 11).
// No main.swift and no top-level code: with `--sanitize fuzzer` libFuzzer's own `main` drives this function.
import Foundation
import Ledger
import MessageSchema
import PostgresClient
import Projector

/// The input: a 16-byte header that says where the message came from, then its key, then its value.
///
///   offset size  field
///        0    1  flags: bit 0 the value is a Kafka null, bit 1 a key follows, bit 2 the message has a Kafka timestamp,
///                bit 3 the message has a Kafka header (name: the key's bytes, value: the value's first 64 bytes)
///        1    1  key length in bytes
///        2    4  partition (i32, little-endian)
///        6    8  Kafka timestamp in milliseconds (i64, little-endian): any value a broker or producer may give
///       14    2  offset (u16, little-endian)
///       16    …  key (key length bytes, if flag bit 1), then the value
private struct FuzzInput {
    static let headerBytes = 16
    var source: SourceCoordinates
    var value: UnsafeRawBufferPointer?

    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.headerBytes else { return nil }
        let flags = bytes[0]
        let keyLength = flags & 2 != 0 ? Int(bytes[1]) : 0
        guard bytes.count >= Self.headerBytes + keyLength else { return nil }
        let key = flags & 2 != 0 ? Array(bytes[Self.headerBytes..<Self.headerBytes + keyLength]) : nil
        let valueStart = Self.headerBytes + keyLength
        let header = MessageHeader(
            name: key ?? [], value: flags & 1 != 0 ? nil : Array(bytes[valueStart...].prefix(64)))
        source = SourceCoordinates(
            topic: "transactions", partition: bytes.loadUnaligned(fromByteOffset: 2, as: Int32.self).littleEndian,
            offset: Int64(bytes.loadUnaligned(fromByteOffset: 14, as: UInt16.self).littleEndian),
            kafkaTimestampMilliseconds: flags & 4 != 0
                ? bytes.loadUnaligned(fromByteOffset: 6, as: Int64.self).littleEndian : nil, key: key,
            headers: flags & 8 != 0 ? [header] : [])
        value = flags & 1 != 0 ? nil : UnsafeRawBufferPointer(rebasing: bytes[(Self.headerBytes + keyLength)...])
    }
}

/// An ingest time as ledger-ingest stamps it (the machine's clock).
private let ingestTimeMicroseconds: Int64 = 1_733_400_000_000_000
private let ledgerID = UUID(uuidString: "6f0e4c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b")!
/// One encoder for the whole run, as the writer keeps one: a new one reserves a 1 MiB payload buffer, which cost
/// nine tenths of each execution under the address sanitizer. `finish` leaves it empty for the next input.
nonisolated(unsafe) private var encoder = FrameEncoder()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let input = FuzzInput(UnsafeRawBufferPointer(start: data, count: size)) else { return 0 }
    let records = recordsFor(input)
    let entries = records.enumerated().map { LedgerEntry(lsn: UInt64($0.offset + 1), record: $0.element) }
    checkFrameRoundTrip(records)
    checkProjection(entries)
    return 0
}

/// Every record the ledger can make of this message: rejected, or accepted and its repeats (duplicate, conflict),
/// under the default policy and, where it differs, with the members outside the schema kept (`--unknown-fields
/// keep`), which carries them into the record and the warehouse's jsonb column.
private func recordsFor(_ input: FuzzInput) -> [Record] {
    let strict = records(input, MessageValidator.validate(input.value))
    let kept = MessageValidator.validate(input.value, unknownFields: .keep)
    guard case .success(let transaction) = kept, transaction.extraMembers != nil else { return strict }
    return strict + records(input, kept)
}

private func records(_ input: FuzzInput, _ validation: Result<Transaction, Rejection>) -> [Record] {
    func record(_ body: RecordBody) -> Record {
        Record(source: input.source, ingestTimeMicroseconds: ingestTimeMicroseconds, body: body)
    }
    switch validation {
    case .failure(let rejection):
        return [record(LedgerAppender.rejected(input.value, rejection))]
    case .success(let transaction):
        return [
            record(.accepted(transaction)), record(.duplicate(transaction, originalLSN: 1)),
            record(.conflict(transaction, originalLSN: 1)),
        ]
    }
}

/// What any input makes is within the bounds every reader shares, and a frame of it reads back exactly.
private func checkFrameRoundTrip(_ records: [Record]) {
    for record in records {
        precondition(
            RecordBounds.violation(in: record) == nil,
            "out of bounds: \(RecordBounds.violation(in: record)!) in \(record)")
        do {
            let encoded = try encoder.encode(record)
            precondition(encoder.hasRoom(for: encoded), "a handful of records fit one frame")
            encoder.add(record, encoded)
        } catch {
            preconditionFailure("the codec refused a record made from input: \(error) for \(record)")
        }
    }
    // `finish` itself decodes the frame and compares it with the records (a precondition): then read it the
    // way a segment scan does, header, checksum, chain and all.
    let frame = encoder.finish(firstLSN: 1, chainLink: 0)
    switch ScannedFrame.readRecords(frameBytes: frame.bytes, firstLSN: 1, chainLink: 0) {
    case .failure(let violation):
        preconditionFailure(
            "a written frame does not read back: \(violation.check), expected \(violation.expected), found \(violation.found)"
        )
    case .success(let readBack):
        precondition(readBack == records, "a frame reads back as other records")
    }
}

/// The projector turns every record into rows without stopping, and every row encodes for COPY (whose
/// encoders check the values against the warehouse's column types).
private func checkProjection(_ entries: [LedgerEntry]) {
    var builder = BatchBuilder(ledgerID: ledgerID, rates: .original, quarantine: false)
    let (batch, stop) = builder.build(entries)
    precondition(stop == nil, "the projector refuses what the ledger accepted: \(stop!)")
    precondition(batch.lastLSN == UInt64(entries.count), "every record is accounted for")
    var buffer = BinaryCopyBuffer()
    for row in batch.transactions + batch.duplicates {
        CopyColumns.encodeTransaction(row, into: &buffer)
        CopyColumns.encodeTransactionKey(row, into: &buffer)
        CopyColumns.encodeRejection(RejectionRow(crossLedgerConflictOf: row), into: &buffer)
    }
    for row in batch.rejections {
        CopyColumns.encodeRejection(row, into: &buffer)
        CopyColumns.encodeRejectionKey(row, into: &buffer)
    }
}
