/// A frame read from a segment and checked against conditions 1-7 of the format (condition 8, decoding, is
/// `decodeRecords`).
public struct ScannedFrame: Sendable {
    /// Byte offset of the frame header in the segment file.
    public var offset: Int64
    public var header: FrameHeader
    var storedPayload: [UInt8]

    /// Checks conditions 5-7 on a whole frame whose header (conditions 1-3) decoded and whose bytes lie within
    /// the file (condition 4): `body` is everything after the 40 header bytes, padding included. `chain` nil
    /// accepts any chain link (reading from the middle of a segment).
    static func check(
        _ header: FrameHeader, headBytes: [UInt8], body: [UInt8], offset: Int64, chain: UInt32?,
        firstLSN: UInt64
    ) -> Result<ScannedFrame, FormatViolation> {
        let stored = Array(body.prefix(Int(header.storedLength)))
        let computed = headBytes.withUnsafeBytes { head in
            stored.withUnsafeBytes { FrameHeader.computeCRC(headerBytes: head, storedPayload: $0) }
        }
        guard computed == header.crc else {
            return .failure(FormatViolation("frame checksum", expected: hex32(header.crc), found: hex32(computed)))
        }
        guard body.dropFirst(Int(header.storedLength)).allSatisfy({ $0 == 0 }) else {
            return .failure(FormatViolation("frame padding", expected: "zero bytes", found: "non-zero padding"))
        }
        if let chain, header.chainLink != chain {
            return .failure(FormatViolation("frame chain link", expected: hex32(chain), found: hex32(header.chainLink)))
        }
        guard header.firstLSN == firstLSN else {
            return .failure(FormatViolation("frame first LSN", expected: "\(firstLSN)", found: "\(header.firstLSN)"))
        }
        return .success(ScannedFrame(offset: offset, header: header, storedPayload: stored))
    }

    /// The records of one frame held in memory (`bytes`: header, payload and padding, as written), checked by
    /// every condition a segment scan applies: the reader's path, for the cross-seam fuzzer and tests.
    package static func readRecords(frameBytes bytes: [UInt8], firstLSN: UInt64, chainLink: UInt32) -> Result<
        [Record], FormatViolation
    > {
        guard bytes.count >= SegmentFormat.frameHeaderBytes else {
            return .failure(
                FormatViolation(
                    "frame header is short", expected: "\(SegmentFormat.frameHeaderBytes) bytes",
                    found: "\(bytes.count) bytes"))
        }
        let head = Array(bytes[0..<SegmentFormat.frameHeaderBytes])
        let header: FrameHeader
        switch head.withUnsafeBytes({ FrameHeader.decode($0) }) {
        case .failure(let violation): return .failure(violation)
        case .success(let decoded): header = decoded
        }
        guard header.totalBytes == bytes.count else {
            return .failure(
                FormatViolation("frame length", expected: "\(header.totalBytes) bytes", found: "\(bytes.count) bytes"))
        }
        let body = Array(bytes[SegmentFormat.frameHeaderBytes...])
        return check(header, headBytes: head, body: body, offset: 0, chain: chainLink, firstLSN: firstLSN).flatMap {
            $0.decodeRecords()
        }
    }

    /// Decompresses and decodes the records (condition 8).
    package func decodeRecords() -> Result<[Record], FormatViolation> {
        var raw = [UInt8](repeating: 0, count: Int(header.rawLength))
        let decompressed = storedPayload.withUnsafeBytes { stored in
            raw.withUnsafeMutableBytes { LZ4Block.decompress(stored, into: $0) }
        }
        guard decompressed != nil else {
            return .failure(
                FormatViolation(
                    "frame decompression", expected: "\(header.rawLength) raw bytes",
                    found: "LZ4 data that does not decode to that"))
        }
        return raw.withUnsafeBytes { RecordCodec.decodeAll($0, expectedCount: Int(header.recordCount)) }
    }
}

/// Reads one segment file frame by frame, checking every frame and the chain. Used by recovery, readers,
/// `verify`, `inspect` and the index rebuild, so that every path applies the same definition of validity.
package final class SegmentScanner {
    package enum Step {
        case frame(ScannedFrame)
        /// A valid footer that ends the file.
        case sealed(SegmentFooter, offset: Int64)
        /// The end of the file, right after the last frame (an open segment).
        case end
        /// The bytes at `offset` are not a valid frame or footer.
        case damaged(offset: Int64, FormatViolation)
    }

    let file: any LedgerFile
    package let header: SegmentHeader
    package let fileSize: Int64
    private(set) var position: Int64
    private(set) var nextLSN: UInt64
    /// The expected chain link of the next frame; nil to accept the first frame's link (reading from the middle).
    private(set) var chain: UInt32?
    private(set) var frameCount = 0
    /// False after `seek`: the frame count and chain of the frames before the seek point are then unknown.
    private var scannedFromStart = true

    /// Opens a scan at the first frame. Throws a corruption error if the segment header is invalid.
    package init(file: any LedgerFile) throws {
        self.file = file
        fileSize = try file.size()
        let headerBytes = try file.read(count: SegmentFormat.headerBytes, at: 0)
        switch headerBytes.withUnsafeBytes({ SegmentHeader.decode($0) }) {
        case .success(let header): self.header = header
        case .failure(let violation): throw violation.error(path: file.path, offset: 0)
        }
        position = Int64(SegmentFormat.headerBytes)
        nextLSN = header.firstLSN
        chain = header.previousSegmentDigest
    }

    /// Moves to a frame known (from the index) to start at `offset` with first LSN `lsn`.
    func seek(toFrameAt offset: Int64, firstLSN lsn: UInt64) {
        precondition(offset >= Int64(SegmentFormat.headerBytes) && offset % 8 == 0, "frame offsets are aligned")
        position = offset
        nextLSN = lsn
        chain = nil
        frameCount = 0
        scannedFromStart = false
    }

    /// The chain value after the frames read so far (the segment digest once the scan reaches the end).
    var digest: UInt32 { chain ?? header.previousSegmentDigest }

    package func next() throws -> Step {
        let remaining = fileSize - position
        if remaining == 0 { return .end }
        let headBytes = try file.read(count: Int(min(remaining, Int64(SegmentFormat.frameHeaderBytes))), at: position)
        if headBytes.withUnsafeBytes({ SegmentFooter.hasMagic($0) }) { return try footer() }
        guard headBytes.count == SegmentFormat.frameHeaderBytes else {
            return .damaged(
                offset: position,
                FormatViolation(
                    "frame header is short", expected: "\(SegmentFormat.frameHeaderBytes) bytes",
                    found: "\(headBytes.count) bytes before the end of the file"))
        }
        let decoded = headBytes.withUnsafeBytes { FrameHeader.decode($0) }
        guard case .success(let frameHeader) = decoded else {
            if case .failure(let violation) = decoded { return .damaged(offset: position, violation) }
            preconditionFailure("unreachable")
        }
        return try frame(frameHeader, headBytes: headBytes)
    }

    private func frame(_ frameHeader: FrameHeader, headBytes: [UInt8]) throws -> Step {
        guard position + Int64(frameHeader.totalBytes) <= fileSize else {
            return .damaged(
                offset: position,
                FormatViolation(
                    "frame extends past the end of the file", expected: "\(frameHeader.totalBytes) bytes",
                    found: "\(fileSize - position) bytes"))
        }
        let body = try file.read(
            count: frameHeader.totalBytes - SegmentFormat.frameHeaderBytes,
            at: position + Int64(SegmentFormat.frameHeaderBytes))
        switch ScannedFrame.check(
            frameHeader, headBytes: headBytes, body: body, offset: position, chain: chain, firstLSN: nextLSN)
        {
        case .failure(let violation):
            return .damaged(offset: position, violation)
        case .success(let scanned):
            position += Int64(frameHeader.totalBytes)
            nextLSN += UInt64(frameHeader.recordCount)
            chain = frameHeader.crc
            frameCount += 1
            return .frame(scanned)
        }
    }

    private func footer() throws -> Step {
        let bytes = try file.read(count: SegmentFormat.footerBytes, at: position)
        let decoded = bytes.withUnsafeBytes { SegmentFooter.decode($0) }
        guard case .success(let footer) = decoded else {
            if case .failure(let violation) = decoded { return .damaged(offset: position, violation) }
            preconditionFailure("unreachable")
        }
        let expected =
            "frames \(frameCount), first LSN \(header.firstLSN), records \(nextLSN - header.firstLSN), digest \(hex32(digest))"
        let found =
            "frames \(footer.frameCount), first LSN \(footer.firstLSN), records \(footer.recordCount), digest \(hex32(footer.digest))"
        let chainKnown = scannedFromStart || chain != nil
        guard footer.firstLSN == header.firstLSN, footer.recordCount == nextLSN - header.firstLSN,
            !chainKnown || footer.digest == digest, !scannedFromStart || footer.frameCount == UInt32(frameCount)
        else { return .damaged(offset: position, FormatViolation("footer contents", expected: expected, found: found)) }
        guard position + Int64(SegmentFormat.footerBytes) == fileSize else {
            return .damaged(
                offset: position,
                FormatViolation(
                    "bytes after the footer", expected: "end of file",
                    found: "\(fileSize - position - Int64(SegmentFormat.footerBytes)) more bytes"))
        }
        return .sealed(footer, offset: position)
    }

    /// Whether any 8-byte-aligned offset after `offset` starts a self-consistent frame (conditions 1-5). Such a
    /// frame after damage means the damage is in the middle of the log, not a torn tail. Reads the rest of the
    /// file at once: it is at most one segment, and this runs only when damage was found.
    package func selfConsistentFrameExists(after offset: Int64) throws -> Int64? {
        let rest = try file.read(count: Int(fileSize - offset), at: offset)
        return rest.withUnsafeBytes { bytes -> Int64? in
            var candidate = SegmentFormat.alignmentBytes
            while candidate + SegmentFormat.frameHeaderBytes <= bytes.count {
                let head = UnsafeRawBufferPointer(
                    rebasing: bytes[candidate..<candidate + SegmentFormat.frameHeaderBytes])
                // Most offsets are not a frame: test the magic before `decode`, which describes failures in text.
                if head.loadUnaligned(as: UInt32.self).littleEndian == SegmentFormat.frameMagic,
                    case .success(let frameHeader) = FrameHeader.decode(head),
                    candidate + frameHeader.totalBytes <= bytes.count
                {
                    let payloadStart = candidate + SegmentFormat.frameHeaderBytes
                    let stored = UnsafeRawBufferPointer(
                        rebasing: bytes[payloadStart..<payloadStart + Int(frameHeader.storedLength)])
                    if FrameHeader.computeCRC(headerBytes: head, storedPayload: stored) == frameHeader.crc {
                        return offset + Int64(candidate)
                    }
                }
                candidate += SegmentFormat.alignmentBytes
            }
            return nil
        }
    }
}

extension ScannedFrame {
    /// Decoded records, or a corruption error naming the path, offset and LSN.
    func records(path: String) throws -> [Record] {
        switch decodeRecords() {
        case .success(let records): return records
        case .failure(let violation):
            throw violation.error(path: path, offset: Int(offset), [("lsn", String(header.firstLSN))])
        }
    }
}
