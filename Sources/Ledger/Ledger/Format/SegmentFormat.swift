import Foundation
import MessageSchema
import OperatingErrors

// # Pulse Ledger segment format, version 3
//
// The ledger is a directory of segment files plus a SQLite index (`index.sqlite`, a rebuildable cache).
// Records are numbered by LSN (log sequence number) from 1, with no holes. A segment file is named by the LSN
// of its first record, zero-padded to 20 digits: `00000000000000000001.seg`. All integers are little-endian.
// Every structure starts on an 8-byte boundary. CRC means CRC-32C (Castagnoli), see `CRC32C.swift`.
//
// ## Segment header (64 bytes, at offset 0)
//
//   offset size  field
//        0    8  magic, the ASCII bytes "PULSELDG"
//        8    2  format version (u16) = 3 (readers also read 1 and 2, see Versioning)
//       10    2  header size in bytes (u16) = 64
//       12    4  reserved, zero
//       16   16  ledger id (UUID bytes, RFC 4122 order)
//       32    8  first LSN of the segment (u64)
//       40    4  digest of the previous segment (u32; 0 for the first segment of a ledger)
//       44    4  reserved, zero
//       48    8  creation time, microseconds since the Unix epoch (i64)
//       56    4  reserved, zero
//       60    4  CRC of bytes 0..<60
//
// ## Frame (40-byte header + payload + zero padding to a multiple of 8)
//
//   offset size  field
//        0    4  magic (u32) = 0x4D52_4650, the bytes "PFRM"
//        4    4  flags (u32): bits 0-3 codec (1 = LZ4 block), all other bits zero
//        8    8  LSN of the frame's first record (u64)
//       16    4  record count (u32), at least 1
//       20    4  raw length (u32): payload bytes after decompression, at most `Limits.frameRawBytesMax`
//       24    4  stored length (u32): payload bytes on disk, at most the LZ4 bound of the raw length
//       28    4  chain link (u32): the CRC of the previous frame of this segment; for the segment's first
//                frame, the previous-segment digest from the segment header
//       32    4  CRC (u32) of header bytes 0..<32 followed by the stored payload
//       36    4  reserved, zero
//       40    …  payload: `stored length` bytes of LZ4 block data, then zero bytes up to an 8-byte boundary
//
// A frame at byte offset P of a segment is valid if and only if:
//   1. the file holds at least 40 bytes at P and bytes 0..<4 are the frame magic;
//   2. the flags name a known codec and the reserved bits and bytes are zero;
//   3. 1 ≤ record count ≤ `Limits.frameRecordsMax` and raw length ≤ `Limits.frameRawBytesMax` and
//      stored length ≤ LZ4's bound for the raw length;
//   4. the whole frame, padding included, lies within the file;
//   5. the CRC matches;
//   6. its chain link equals the CRC of the frame before it (or the segment header's previous-segment digest);
//   7. its first LSN is the previous frame's first LSN + record count (or the segment's first LSN);
//   8. the payload decompresses to exactly `raw length` bytes holding exactly `record count` records, each
//      decoding without error and ending exactly at the end of the payload (see `RecordCodec.swift`).
// Conditions 1-5 make a frame "self-consistent": recovery uses them to tell a torn tail (no self-consistent
// frame after the damage) from damage in the middle of the log (a self-consistent frame follows it).
//
// ## Records (the payload of a frame, after decompression)
//
// `record count` records back to back; the LSN of each is the frame's first LSN plus its index. A record is a
// LEB128 varint body length followed by the body. "zz" is a zig-zag LEB128 varint (signed), "v" an unsigned
// LEB128 varint, "bytes" a v length followed by that many bytes, "text" bytes holding valid UTF-8.
//
//   body     := kind:u8  ingest-time-µs:zz  source  detail
//   source   := topic:text(≤255)  partition:zz  offset:zz  presence:u8  [kafka-timestamp-ms:zz]  [key:bytes]
//               [headers]  [extra-members:text(≤16 KiB)]
//               presence bit 0: a Kafka timestamp follows; bit 1: a key follows (≤1 KiB); bit 2: headers follow;
//               bit 3: extra members follow, only in a record whose detail holds a transaction (kinds 1, 3, 4):
//               the message's JSON members outside the schema, as one JSON object's text; other bits zero
//   headers  := count:v (1...64)  { name:bytes(≤255)  has-value:u8(0|1)  [value:bytes] } × count
//               names and values together at most 8 KiB
//   detail   := kind 1 accepted : transaction
//               kind 2 rejected : reason:u8  field:text  original-size:v  has-raw:u8(0|1)  [raw:bytes]
//               kind 3 duplicate: original-LSN:v  transaction
//               kind 4 conflict : original-LSN:v  transaction
//               kind 5 gap      : last-missing-offset:zz   (source.offset is the first missing offset)
//               kind 6 lost     : (nothing)   a published record found damaged and dropped by an operator's
//                                 counted decision; its source is topic "", partition 0, offset 0 (unknown)
//   transaction := order-id:16 bytes  amount-cents:v  currency:3 ASCII upper-case letters
//                  timestamp-µs-UTC:zz  original-offset-minutes:zz  customer-id:text  product-category:text
//
// A body must be consumed exactly by its kind's layout; reason codes are those of `RejectReason`.
//
// ## Footer (32 bytes, only in sealed segments, right after the last frame)
//
//   offset size  field
//        0    4  magic (u32) = 0x4C41_4553, the bytes "SEAL"
//        4    4  frame count (u32)
//        8    8  first LSN (u64), equal to the header's
//       16    8  record count (u64); the last LSN is first LSN + record count - 1
//       24    4  segment digest (u32): the CRC of the last frame (the previous-segment digest if no frame),
//                which seeds the next segment's chain
//       28    4  CRC of bytes 0..<28
//
// Nothing follows a footer. A sealed segment with a trailing byte after its footer is corrupt.
//
// ## Versioning
// A reader refuses a segment whose version it does not know. Any change to the bytes above bumps
// `SegmentFormat.version` and this comment in the same commit.
//   1  the layout above without record kind 6.
//   2  adds record kind 6 (lost). A version 1 segment never holds one: the writer starts a new segment before
//      it writes lost records. Readers read both versions; new segments are written as version 2.
//   3  adds presence bits 2 (Kafka headers) and 3 (a message's members outside the schema, kept with
//      `--unknown-fields keep`). A writer never appends to a segment of an older version: at open it seals one
//      and starts a version 3 segment, so an older reader refuses the new records by version (`unsupported
//      version`), never as damage. Readers read versions 1 to 3.
// Text lengths are the bounds of `RecordBounds` and `Limits` (topic and a rejection's field at most 255 bytes,
// customer_id and product_category at most 200 bytes and 50 scalars): the writer refuses any record outside
// them before writing a byte, and decodes every frame before writing it.

/// Constants and codecs of the segment file format described at the top of this file.
public enum SegmentFormat {
    public static let version: UInt16 = 3
    /// The versions a reader reads.
    public static let readableVersions: ClosedRange<UInt16> = 1...3
    public static let headerBytes = 64
    public static let frameHeaderBytes = 40
    public static let footerBytes = 32
    public static let alignmentBytes = 8
    static let segmentMagic: [UInt8] = Array("PULSELDG".utf8)
    static let frameMagic: UInt32 = 0x4D52_4650
    static let footerMagic: UInt32 = 0x4C41_4553
    static let codecLZ4: UInt32 = 1
    static let fileExtension = "seg"

    /// The file name of the segment whose first record has `firstLSN`, e.g. "00000000000000000001.seg".
    public static func fileName(firstLSN: UInt64) -> String {
        let digits = String(firstLSN)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + "." + fileExtension
    }

    /// The first LSN a segment file name stands for, nil if the name is not a segment's.
    public static func firstLSN(fileName: String) -> UInt64? {
        guard fileName.count == 24, fileName.hasSuffix("." + fileExtension) else { return nil }
        let digits = fileName.prefix(20)
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }

    /// `count` rounded up to the next multiple of 8.
    static func aligned(_ count: Int) -> Int { (count + alignmentBytes - 1) & ~(alignmentBytes - 1) }
}

/// The fixed fields of a segment header.
public struct SegmentHeader: Sendable, Hashable {
    public var version: UInt16
    public var ledgerID: UUID
    public var firstLSN: UInt64
    public var previousSegmentDigest: UInt32
    public var createdAtMicroseconds: Int64

    public init(ledgerID: UUID, firstLSN: UInt64, previousSegmentDigest: UInt32, createdAtMicroseconds: Int64) {
        self.version = SegmentFormat.version
        self.ledgerID = ledgerID
        self.firstLSN = firstLSN
        self.previousSegmentDigest = previousSegmentDigest
        self.createdAtMicroseconds = createdAtMicroseconds
    }

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: SegmentFormat.headerBytes)
        writer.append(bytes: SegmentFormat.segmentMagic)
        writer.append(littleEndian: version)
        writer.append(littleEndian: UInt16(SegmentFormat.headerBytes))
        writer.appendZeros(4)
        writer.append(bytes: ledgerID.bytes)
        writer.append(littleEndian: firstLSN)
        writer.append(littleEndian: previousSegmentDigest)
        writer.appendZeros(4)
        writer.append(littleEndian: createdAtMicroseconds)
        writer.appendZeros(4)
        writer.append(littleEndian: CRC32C.checksum(writer.bytes))
        precondition(writer.count == SegmentFormat.headerBytes, "segment header layout")
        return writer.bytes
    }

    /// Decodes and checks a header; the failure says which check failed, with expected and found values.
    package static func decode(_ bytes: UnsafeRawBufferPointer) -> Result<SegmentHeader, FormatViolation> {
        guard bytes.count >= SegmentFormat.headerBytes else {
            return .failure(
                FormatViolation(
                    "segment header is short", expected: "\(SegmentFormat.headerBytes) bytes",
                    found: "\(bytes.count) bytes"))
        }
        let header = UnsafeRawBufferPointer(rebasing: bytes[0..<SegmentFormat.headerBytes])
        guard Array(header[0..<8]) == SegmentFormat.segmentMagic else {
            return .failure(FormatViolation("segment magic", expected: "PULSELDG", found: hex(header[0..<8])))
        }
        var reader = ByteReader(header, position: 8)
        let version = reader.read(UInt16.self)!
        let size = reader.read(UInt16.self)!
        let storedCRC = header.loadUnaligned(fromByteOffset: 60, as: UInt32.self).littleEndian
        let computedCRC = CRC32C.update(0, UnsafeRawBufferPointer(rebasing: header[0..<60]))
        guard storedCRC == computedCRC else {
            return .failure(
                FormatViolation("segment header checksum", expected: hex32(storedCRC), found: hex32(computedCRC)))
        }
        guard SegmentFormat.readableVersions.contains(version), size == UInt16(SegmentFormat.headerBytes) else {
            return .failure(
                FormatViolation(
                    "segment format version", expected: "\(SegmentFormat.readableVersions)", found: "\(version)",
                    unsupportedVersion: true))
        }
        _ = reader.read(UInt32.self)
        let ledgerID = UUID(bytes: reader.readBytes(16)!)
        let firstLSN = reader.read(UInt64.self)!
        let previousDigest = reader.read(UInt32.self)!
        _ = reader.read(UInt32.self)
        let createdAt = reader.read(Int64.self)!
        var result = SegmentHeader(
            ledgerID: ledgerID, firstLSN: firstLSN, previousSegmentDigest: previousDigest,
            createdAtMicroseconds: createdAt)
        result.version = version
        return .success(result)
    }
}

/// The fixed fields of a frame header (see the format description at the top of this file).
public struct FrameHeader: Sendable, Hashable {
    public var firstLSN: UInt64
    public var recordCount: UInt32
    public var rawLength: UInt32
    public var storedLength: UInt32
    public var chainLink: UInt32
    public var crc: UInt32

    /// Bytes the frame takes on disk: header, payload and padding.
    public var totalBytes: Int { SegmentFormat.aligned(SegmentFormat.frameHeaderBytes + Int(storedLength)) }
    public var lastLSN: UInt64 { firstLSN + UInt64(recordCount) - 1 }

    /// The 40 header bytes; `crc` is computed over bytes 0..<32 and `storedPayload`.
    static func encode(
        firstLSN: UInt64, recordCount: UInt32, rawLength: UInt32, chainLink: UInt32,
        storedPayload: UnsafeRawBufferPointer
    ) -> (bytes: [UInt8], crc: UInt32) {
        var writer = ByteWriter(capacity: SegmentFormat.frameHeaderBytes)
        writer.append(littleEndian: SegmentFormat.frameMagic)
        writer.append(littleEndian: SegmentFormat.codecLZ4)
        writer.append(littleEndian: firstLSN)
        writer.append(littleEndian: recordCount)
        writer.append(littleEndian: rawLength)
        writer.append(littleEndian: UInt32(storedPayload.count))
        writer.append(littleEndian: chainLink)
        let crc = CRC32C.update(CRC32C.checksum(writer.bytes), storedPayload)
        writer.append(littleEndian: crc)
        writer.appendZeros(4)
        return (writer.bytes, crc)
    }

    /// Checks conditions 1-3 of frame validity on the 40 header bytes; the CRC needs the payload too.
    package static func decode(_ bytes: UnsafeRawBufferPointer) -> Result<FrameHeader, FormatViolation> {
        precondition(bytes.count >= SegmentFormat.frameHeaderBytes, "caller reads a whole frame header")
        var reader = ByteReader(bytes)
        let magic = reader.read(UInt32.self)!
        guard magic == SegmentFormat.frameMagic else {
            return .failure(
                FormatViolation("frame magic", expected: hex32(SegmentFormat.frameMagic), found: hex32(magic)))
        }
        let flags = reader.read(UInt32.self)!
        let header = FrameHeader(
            firstLSN: reader.read(UInt64.self)!, recordCount: reader.read(UInt32.self)!,
            rawLength: reader.read(UInt32.self)!,
            storedLength: reader.read(UInt32.self)!, chainLink: reader.read(UInt32.self)!,
            crc: reader.read(UInt32.self)!)
        let reserved = reader.read(UInt32.self)!
        guard flags == SegmentFormat.codecLZ4, reserved == 0 else {
            return .failure(
                FormatViolation(
                    "frame flags", expected: "codec 1, reserved 0",
                    found: "flags \(hex32(flags)), reserved \(hex32(reserved))"))
        }
        guard header.recordCount >= 1, header.recordCount <= UInt32(Limits.frameRecordsMax) else {
            return .failure(
                FormatViolation(
                    "frame record count", expected: "1...\(Limits.frameRecordsMax)", found: "\(header.recordCount)"))
        }
        guard header.rawLength <= UInt32(Limits.frameRawBytesMax),
            Int(header.storedLength) <= LZ4Block.compressedBytesBound(rawByteCount: Int(header.rawLength))
        else {
            return .failure(
                FormatViolation(
                    "frame lengths", expected: "raw ≤ \(Limits.frameRawBytesMax), stored ≤ LZ4 bound",
                    found: "raw \(header.rawLength), stored \(header.storedLength)"))
        }
        return .success(header)
    }

    /// Condition 5: the CRC over header bytes 0..<32 and the stored payload.
    static func computeCRC(headerBytes: UnsafeRawBufferPointer, storedPayload: UnsafeRawBufferPointer) -> UInt32 {
        CRC32C.update(CRC32C.update(0, UnsafeRawBufferPointer(rebasing: headerBytes[0..<32])), storedPayload)
    }
}

/// The fields of a sealed segment's footer.
public struct SegmentFooter: Sendable, Hashable {
    public var frameCount: UInt32
    public var firstLSN: UInt64
    public var recordCount: UInt64
    public var digest: UInt32

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: SegmentFormat.footerBytes)
        writer.append(littleEndian: SegmentFormat.footerMagic)
        writer.append(littleEndian: frameCount)
        writer.append(littleEndian: firstLSN)
        writer.append(littleEndian: recordCount)
        writer.append(littleEndian: digest)
        writer.append(littleEndian: CRC32C.checksum(writer.bytes))
        precondition(writer.count == SegmentFormat.footerBytes, "footer layout")
        return writer.bytes
    }

    /// Whether `bytes` starts with the footer magic (it is then a footer or damage, never a frame).
    static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes.loadUnaligned(as: UInt32.self).littleEndian == SegmentFormat.footerMagic
    }

    package static func decode(_ bytes: UnsafeRawBufferPointer) -> Result<SegmentFooter, FormatViolation> {
        guard bytes.count >= SegmentFormat.footerBytes else {
            return .failure(
                FormatViolation(
                    "footer is short", expected: "\(SegmentFormat.footerBytes) bytes", found: "\(bytes.count) bytes"))
        }
        let footer = UnsafeRawBufferPointer(rebasing: bytes[0..<SegmentFormat.footerBytes])
        let storedCRC = footer.loadUnaligned(fromByteOffset: 28, as: UInt32.self).littleEndian
        let computedCRC = CRC32C.update(0, UnsafeRawBufferPointer(rebasing: footer[0..<28]))
        guard hasMagic(footer), storedCRC == computedCRC else {
            return .failure(FormatViolation("footer checksum", expected: hex32(storedCRC), found: hex32(computedCRC)))
        }
        var reader = ByteReader(footer, position: 4)
        return .success(
            SegmentFooter(
                frameCount: reader.read(UInt32.self)!, firstLSN: reader.read(UInt64.self)!,
                recordCount: reader.read(UInt64.self)!, digest: reader.read(UInt32.self)!))
    }
}

/// One failed check of the format: what was checked, what it should have been, what was there.
package struct FormatViolation: Error, Sendable {
    package var check: String
    package var expected: String
    package var found: String
    var unsupportedVersion = false

    init(_ check: String, expected: String, found: String, unsupportedVersion: Bool = false) {
        self.check = check
        self.expected = expected
        self.found = found
        self.unsupportedVersion = unsupportedVersion
    }

    /// The violation as a ledger error located at `path` and byte `offset`.
    func error(path: String, offset: Int, _ extra: [(String, String)] = []) -> LedgerError {
        LedgerError(
            unsupportedVersion ? .unsupportedVersion : .corruption, check,
            [("path", path), ("offset", String(offset)), ("expected", expected), ("found", found)] + extra)
    }
}

package func hex32(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}

func hex(_ bytes: some Collection<UInt8>) -> String {
    bytes.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
}
