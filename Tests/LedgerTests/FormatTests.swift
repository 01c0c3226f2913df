import Foundation
import LedgerTesting
import MessageSchema
import Testing

@testable import Ledger

@Suite struct CRC32CTests {
    @Test func knownVectors() {
        // Published CRC-32C check values (RFC 3720 appendix B.4 and the "123456789" check value).
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
    }

    @Test func chainsAcrossSplits() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let whole = CRC32C.checksum(bytes)
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            #expect(CRC32C.update(CRC32C.checksum(bytes[..<split]), bytes[split...]) == whole)
        }
    }
}

/// `ByteWriter` writes through a pointer into memory it grows itself: checked here against bytes made the plain
/// way, from an empty buffer through many doublings, with every kind of value and source collection.
@Suite struct ByteWriterTests {
    /// Unsigned LEB128, the obvious way.
    private static func varint(_ value: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        var remaining = value
        repeat {
            bytes.append(UInt8(remaining & 0x7F) | (remaining >= 0x80 ? 0x80 : 0))
            remaining >>= 7
        } while remaining > 0
        return bytes
    }

    private static func firstDifference(_ written: [UInt8], _ expected: [UInt8]) -> Int? {
        (0..<min(written.count, expected.count)).first { written[$0] != expected[$0] }
            ?? (written.count == expected.count ? nil : min(written.count, expected.count))
    }

    @Test func writesWhatAPlainEncodingWrites() {
        var writer = ByteWriter()
        var expected: [UInt8] = []
        var varints: [UInt64] = []
        let edges: [UInt64] = [0, 1, 0x7F, 0x80, 0x3FFF, 0x4000, UInt64(Int64.max), UInt64.max]
        var generator = SystemRandomNumberGenerator()
        for step in 0..<5000 {
            switch step % 7 {
            case 0:
                let value =
                    step < 8 * 7
                    ? edges[step / 7] : UInt64.random(in: 0...UInt64.max, using: &generator) >> (step % 64)
                writer.appendVarint(value)
                expected += Self.varint(value)
                varints.append(value)
            case 1:
                let value = UInt32.random(in: 0...UInt32.max, using: &generator)
                writer.append(littleEndian: value)
                expected += withUnsafeBytes(of: value.littleEndian) { Array($0) }
            case 2:
                let text = String(repeating: "é", count: step % 40)  // small (inline) and heap strings
                writer.appendLengthPrefixed(text.utf8)
                expected += Self.varint(UInt64(text.utf8.count)) + Array(text.utf8)
            case 3:
                // No contiguous storage: the element-by-element path.
                let bytes = (0..<(step % 300)).lazy.map { UInt8(truncatingIfNeeded: $0 &* 7) }
                writer.append(bytes: bytes)
                expected += Array(bytes)
            case 4:
                writer.appendZeros(step % 5)
                expected += [UInt8](repeating: 0, count: step % 5)
            case 5:
                let value = Int64.random(in: Int64.min...Int64.max, using: &generator) >> (step % 64)
                writer.appendSignedVarint(value)
                expected += Self.varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
            default:
                let bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: step), count: step % 1000)
                writer.append(bytes: bytes)
                expected += bytes
            }
        }
        #expect(writer.count == expected.count)
        // The first difference, not the arrays: a failure's diff of two megabyte arrays would take minutes.
        #expect(Self.firstDifference(writer.bytes, expected) == nil)
        #expect(writer.withUnsafeBytes { Self.firstDifference(Array($0), expected) } == nil)
        writer.removeAll()
        #expect(writer.count == 0 && writer.bytes.isEmpty)
        writer.append(littleEndian: UInt16(0x0102))
        #expect(writer.bytes == [0x02, 0x01])
    }

    @Test func varintsReadBackThroughTheReader() {
        let values: [UInt64] = [0, 1, 0x7F, 0x80, 0x3FFF, 0x4000, 1 << 35, UInt64(Int64.max), UInt64.max]
        var writer = ByteWriter(capacity: 1)
        for value in values { writer.appendVarint(value) }
        for value in [Int64.min, -1, 0, 1, Int64.max] { writer.appendSignedVarint(value) }
        writer.withUnsafeBytes { bytes in
            var reader = ByteReader(bytes)
            for value in values { #expect(reader.readVarint() == value) }
            for value in [Int64.min, -1, 0, 1, Int64.max] { #expect(reader.readSignedVarint() == value) }
            #expect(reader.isAtEnd)
        }
    }
}

@Suite struct RecordCodecTests {
    @Test func everyKindRoundTripsThroughTheLedger() throws {
        let directory = ScratchDirectory()
        let records =
            (0..<200).map { Sample.record($0) } + [
                Record(
                    source: SourceCoordinates(topic: "t", partition: 2, offset: 10), ingestTimeMicroseconds: -5,
                    body: .gap(lastMissingOffset: 99)),
                Record.lost(ingestTimeMicroseconds: 7),
                Record(
                    source: SourceCoordinates(
                        topic: "file:orders.jsonl", partition: 0, offset: 1, kafkaTimestampMilliseconds: nil, key: []),
                    ingestTimeMicroseconds: 0,
                    body: .rejected(
                        RejectedMessage(
                            rejection: Rejection(.messageTooLarge),
                            rawBytes: [UInt8](repeating: 0x41, count: Limits.rejectedRawBytesKeptMax),
                            originalByteCount: 2 << 20))),
            ]
        #expect(Set(records.map(\.kind)) == Set(RecordKind.allCases))
        do {
            let writer = try LedgerWriter(directory: directory.path)
            for record in records { try writer.append(record) }
            #expect(try writer.commit() == UInt64(records.count))
        }
        let entries = try ledgerEntries(directory.path)
        #expect(entries.map(\.record) == records)
        #expect(entries.map(\.lsn) == Array(1...UInt64(records.count)))
    }

    /// Format version 3: Kafka headers (null values included, the largest that fit) and a message's members outside
    /// the schema read back exactly, beside records without them; the kept headers stop at the bounds.
    @Test func headersAndExtraMembersRoundTrip() throws {
        let directory = ScratchDirectory()
        let headers = [
            MessageHeader(name: Array("traceparent".utf8), value: Array("00-4bf92f3577b34da6-01".utf8)),
            MessageHeader(name: Array("empty".utf8), value: nil), MessageHeader(name: [0xFF, 0x00], value: []),
        ]
        var transaction = Sample.transaction(7)
        transaction.extraMembers = #"{"payment_method":"card","meta":{"a":[1,null]}}"#
        let source = SourceCoordinates(topic: "transactions", partition: 1, offset: 5, key: [1], headers: headers)
        let oversized = (0..<100).map {
            MessageHeader(name: Array("h\($0)".utf8), value: [UInt8](repeating: 7, count: 100))
        }
        let records = [
            Record(source: source, ingestTimeMicroseconds: 1, body: .accepted(transaction)),
            Record(source: source, ingestTimeMicroseconds: 2, body: .duplicate(transaction, originalLSN: 1)),
            Record(
                source: SourceCoordinates(topic: "transactions", partition: 1, offset: 6, headers: oversized),
                ingestTimeMicroseconds: 3,
                body: .rejected(
                    RejectedMessage(rejection: Rejection(.invalidJSON), rawBytes: [0x7B], originalByteCount: 1))),
            Sample.record(8),
        ]
        #expect(records[2].source.headers.count == 64 && records[2].source.headers == Array(oversized.prefix(64)))
        do {
            let writer = try LedgerWriter(directory: directory.path)
            for record in records { try writer.append(record) }
            try writer.commit()
        }
        #expect(try ledgerEntries(directory.path).map(\.record) == records)
        #expect(try LedgerMaintenance.verify(directory: directory.path).isConsistent)
    }

    /// A segment an older binary left open is sealed at open, not appended to: the new record fields go into a
    /// version 3 segment, which an older reader refuses by its version instead of calling it damage.
    @Test func anOlderVersionsOpenSegmentIsSealedNotAppendedTo() throws {
        let directory = ScratchDirectory()
        var older = LedgerOptions()
        older.segmentFormatVersion = 2
        do {
            let writer = try LedgerWriter(directory: directory.path, options: older)
            for number in 0..<10 { try writer.append(Sample.record(number)) }
            try writer.commit()
        }
        do {
            let writer = try LedgerWriter(directory: directory.path)
            try writer.append(
                Record(
                    source: SourceCoordinates(
                        topic: "transactions", partition: 0, offset: 10,
                        headers: [MessageHeader(name: Array("a".utf8), value: [1])]),
                    ingestTimeMicroseconds: 1, body: .accepted(Sample.transaction(10))))
            try writer.close()
        }
        let versions = try directory.segments().map {
            try SegmentScanner(file: PosixFileSystem().openForReading($0)).header.version
        }
        #expect(versions == [2, 3])
        #expect(try ledgerEntries(directory.path).count == 11)
        #expect(try LedgerMaintenance.verify(directory: directory.path).isConsistent)
    }

    @Test func malformedPayloadsAreRefusedNotTrapped() {
        var payload = ByteWriter()
        var scratch = ByteWriter()
        for number in 0..<20 {
            scratch.removeAll()
            try! RecordCodec.encodeBody(Sample.record(number), into: &scratch)
            payload.appendVarint(UInt64(scratch.count))
            payload.append(bytes: scratch.bytes)
        }
        let bytes = payload.bytes
        #expect(bytes.withUnsafeBytes { RecordCodec.decodeAll($0, expectedCount: 20) }.isSuccess)
        #expect(!bytes.withUnsafeBytes { RecordCodec.decodeAll($0, expectedCount: 21) }.isSuccess)
        for cut in 0..<bytes.count {
            let result = Array(bytes[..<cut]).withUnsafeBytes { RecordCodec.decodeAll($0, expectedCount: 20) }
            #expect(!result.isSuccess, "a payload cut at \(cut) must not decode")
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var damaged = bytes
            damaged[Int.random(in: 0..<damaged.count, using: &generator)] ^= UInt8.random(
                in: 1...255, using: &generator)
            _ = damaged.withUnsafeBytes { RecordCodec.decodeAll($0, expectedCount: 20) }
        }
    }
}

/// Frames of a real segment, written with small commits so that each commit is one frame.
func writeFrames(_ directory: ScratchDirectory, frames: Int, recordsPerFrame: Int) throws -> (
    path: String, offsets: [Int64]
) {
    let writer = try LedgerWriter(directory: directory.path)
    try writer.appendSamples(0..<(frames * recordsPerFrame), perCommit: recordsPerFrame)
    let path = try directory.segments().last!
    let scanner = try SegmentScanner(file: PosixFileSystem().openForReading(path))
    var offsets: [Int64] = []
    while case .frame(let frame) = try scanner.next() { offsets.append(frame.offset) }
    return (path, offsets)
}

@Suite struct SegmentScannerTests {
    /// Drip-feed: the segment file as it looks after every single byte of it was written. The scanner must
    /// return exactly the frames wholly present, then stop at the partial one, and never trap.
    @Test func framesFedOneByteAtATime() throws {
        let directory = ScratchDirectory()
        let (path, offsets) = try writeFrames(directory, frames: 4, recordsPerFrame: 3)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let partial = directory.file("partial.seg")
        for length in SegmentFormat.headerBytes...bytes.count {
            try bytes.prefix(length).write(to: URL(fileURLWithPath: partial))
            let scanner = try SegmentScanner(file: PosixFileSystem().openForReading(partial))
            var seen = 0
            scan: while true {
                switch try scanner.next() {
                case .frame: seen += 1
                case .end:
                    #expect(
                        offsets.contains(Int64(length)) || length == bytes.count || length == SegmentFormat.headerBytes)
                    break scan
                case .damaged(let offset, _):
                    #expect(offset == (seen < offsets.count ? offsets[seen] : Int64(bytes.count)), "length \(length)")
                    break scan
                case .sealed:
                    Issue.record("an open segment has no footer")
                    break scan
                }
            }
            let complete = (0..<offsets.count).filter { index in
                let end = index + 1 < offsets.count ? offsets[index + 1] : Int64(bytes.count)
                return end <= Int64(length)
            }.count
            #expect(seen == complete, "length \(length): \(seen) frames seen, \(complete) complete")
        }
    }

    @Test func everyBitFlipInAFrameIsDetected() throws {
        let directory = ScratchDirectory()
        let (path, offsets) = try writeFrames(directory, frames: 2, recordsPerFrame: 2)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let target = directory.file("flipped.seg")
        for position in Int(offsets[0])..<original.count {
            var damaged = original
            damaged[position] ^= 0x01
            try damaged.write(to: URL(fileURLWithPath: target))
            let scanner = try SegmentScanner(file: PosixFileSystem().openForReading(target))
            var frames = 0
            var damageSeen = false
            while true {
                let step = try scanner.next()
                if case .frame(let frame) = step {
                    frames += 1
                    if case .failure = frame.decodeRecords() {
                        damageSeen = true
                        break
                    }
                    continue
                }
                if case .damaged = step { damageSeen = true }
                break
            }
            #expect(damageSeen, "a flipped bit at byte \(position) went unnoticed")
            #expect(frames <= 2)
        }
    }

    @Test func segmentNames() {
        #expect(SegmentFormat.fileName(firstLSN: 1) == "00000000000000000001.seg")
        #expect(SegmentFormat.firstLSN(fileName: "00000000000000012345.seg") == 12345)
        #expect(SegmentFormat.firstLSN(fileName: "0000000000000001234x.seg") == nil)
        #expect(SegmentFormat.firstLSN(fileName: "index.sqlite") == nil)
    }
}
