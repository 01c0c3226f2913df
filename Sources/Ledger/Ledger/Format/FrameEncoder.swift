import Foundation
import OperatingErrors

/// Builds one frame of the segment format (see `SegmentFormat.swift`): records are encoded into its payload as
/// they are appended, and the finished frame is checked the way a reader will read it before anyone may write
/// it. The writer owns one; the cross-seam fuzzer drives another through the same code.
package struct FrameEncoder: ~Copyable {
    /// One record's encoded body, not yet in the payload.
    package struct EncodedRecord {
        fileprivate var byteCount: Int
    }

    /// A finished frame: its bytes on disk (header, payload, padding) and what the index keeps of it.
    package struct Frame {
        package var bytes: [UInt8]
        package var storedLength: Int
        package var rawLength: Int
        package var crc: UInt32
    }

    private var payload = ByteWriter(capacity: Limits.frameRawBytesMax)
    private var scratch = ByteWriter(capacity: 4096)
    private var compressed: [UInt8] = []
    private var verification: [UInt8] = []
    /// Records in the payload.
    package private(set) var recordCount = 0
    /// The records in the payload, as appended, where `assert` runs (debug builds, the tests): the finished frame
    /// must decode to exactly these. Release builds keep none: holding every record of a frame until it is
    /// finished only for that check cost a retain, a release and an array slot per record on the ingest thread.
    private var appended: [Record] = []
    private let keepsAppended = _isDebugAssertConfiguration()
    /// False only in tests that make ledgers as binaries before `RecordBounds` wrote them (NUL in text, years
    /// outside 1-9999), to check that readers and the projector still handle such records.
    private let checksBounds: Bool
    /// False only in `ledger-bench`, to measure what the read-back check costs (docs/BENCHMARKS.md).
    private let checksReadBack: Bool

    package init(checksBounds: Bool = true, checksReadBack: Bool = true) {
        self.checksBounds = checksBounds
        self.checksReadBack = checksReadBack
    }

    package var isEmpty: Bool { recordCount == 0 }

    /// Encodes `record` (without adding it). Refuses, leaving the frame as it was, a record with a value out of
    /// `RecordBounds` (`.valueOutOfBounds`) or larger than `Limits.recordBytesMax` (`.recordTooLarge`).
    /// `transactionChecked`: see `RecordCodec.encodeBody`.
    package mutating func encode(_ record: Record, transactionChecked: Bool = false) throws -> EncodedRecord {
        scratch.removeAll()
        try RecordCodec.encodeBody(
            record, into: &scratch, checkingBounds: checksBounds, transactionChecked: transactionChecked)
        guard scratch.count <= Limits.recordBytesMax else {
            throw LedgerError(
                .recordTooLarge, "record larger than a frame allows",
                [("bytes", String(scratch.count)), ("maximum", String(Limits.recordBytesMax))])
        }
        return EncodedRecord(byteCount: scratch.count)
    }

    /// Whether the record just encoded still fits this frame (else the caller finishes the frame first).
    package func hasRoom(for encoded: EncodedRecord) -> Bool {
        // The length prefix is a varint of at most 10 bytes.
        isEmpty
            || (payload.count + encoded.byteCount + 10 <= Limits.frameRawBytesMax
                && recordCount < Limits.frameRecordsMax)
    }

    /// Adds the record `encode` just encoded.
    package mutating func add(_ record: Record, _ encoded: EncodedRecord) {
        precondition(
            encoded.byteCount == scratch.count && hasRoom(for: encoded),
            "add follows encode of the same record, with room for it")
        payload.appendVarint(UInt64(scratch.count))
        scratch.withUnsafeBytes { payload.append(bytes: $0) }
        recordCount += 1
        if keepsAppended { appended.append(record) }
    }

    /// The frame's bytes, after checking that they read back as the records appended; then starts a new frame.
    package mutating func finish(firstLSN: UInt64, chainLink: UInt32) -> Frame {
        precondition(!isEmpty, "a frame holds at least one record")
        let bound = LZ4Block.compressedBytesBound(rawByteCount: payload.count)
        if compressed.count < bound { compressed = [UInt8](repeating: 0, count: bound) }
        let storedLength = payload.withUnsafeBytes { raw in
            compressed.withUnsafeMutableBytes { LZ4Block.compress(raw, into: $0) }
        }
        if checksReadBack { checkReadsBack(storedLength: storedLength, firstLSN: firstLSN) }
        let frame = compressed.withUnsafeBytes { all in
            let storedPayload = UnsafeRawBufferPointer(rebasing: all[0..<storedLength])
            let header = FrameHeader.encode(
                firstLSN: firstLSN, recordCount: UInt32(recordCount), rawLength: UInt32(payload.count),
                chainLink: chainLink, storedPayload: storedPayload)
            var bytes = header.bytes
            bytes.append(contentsOf: storedPayload)
            bytes.append(contentsOf: repeatElement(0, count: SegmentFormat.aligned(bytes.count) - bytes.count))
            return Frame(bytes: bytes, storedLength: storedLength, rawLength: payload.count, crc: header.crc)
        }
        payload.removeAll()
        recordCount = 0
        appended.removeAll(keepingCapacity: true)
        return frame
    }

    /// Checks data on the way to the disk, as a reader will see it: the compressed frame must decompress to
    /// exactly the payload, and the payload must decode, field by field, by the decoder's own rules. Either
    /// failing is a bug (a codec that writes what it cannot read, or a memory fault): the process stops before the
    /// frame can reach a file, so nothing unreadable is ever made durable. Debug builds (the tests) also compare
    /// the decoded records with those appended; release builds leave that to the round-trip fuzzer, since
    /// building every record's strings again cost a tenth of append throughput (docs/BENCHMARKS.md).
    private mutating func checkReadsBack(storedLength: Int, firstLSN: UInt64) {
        let rawLength = payload.count
        if verification.count < rawLength { verification = [UInt8](repeating: 0, count: rawLength) }
        let violation = compressed.withUnsafeBytes { all in
            verification.withUnsafeMutableBytes { check -> FormatViolation? in
                let target = UnsafeMutableRawBufferPointer(rebasing: check[0..<rawLength])
                guard LZ4Block.decompress(UnsafeRawBufferPointer(rebasing: all[0..<storedLength]), into: target) != nil,
                    payload.withUnsafeBytes({ memcmp($0.baseAddress!, target.baseAddress!, rawLength) == 0 })
                else {
                    preconditionFailure(
                        "LZ4 round trip of frame at LSN \(firstLSN) does not reproduce its payload (memory or library fault)"
                    )
                }
                return RecordCodec.check(UnsafeRawBufferPointer(target), expectedCount: recordCount)
            }
        }
        if let violation {
            preconditionFailure(
                "frame at LSN \(firstLSN) does not decode: \(violation.check), expected \(violation.expected), found \(violation.found)"
            )
        }
        assert(readsBackAsAppended(firstLSN: firstLSN))
    }

    /// Debug builds: the payload decodes to exactly the records appended (a codec that shortened or changed a
    /// value would pass `check` and fail here).
    private func readsBackAsAppended(firstLSN: UInt64) -> Bool {
        let decoded = payload.withUnsafeBytes { RecordCodec.decodeAll($0, expectedCount: recordCount) }
        guard case .success(let readBack) = decoded else { return false }
        guard let index = readBack.indices.first(where: { readBack[$0] != appended[$0] }) else { return true }
        print(
            "record at LSN \(firstLSN + UInt64(index)) reads back as other values than were appended: \(readBack[index]) vs \(appended[index])"
        )
        return false
    }
}
