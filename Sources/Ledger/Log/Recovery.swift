import Foundation
import Logging

/// What `open` finds on disk, and what it does about it. Each case has a test named after it.
///
/// | case                         | found                                                        | action                               |
/// |------------------------------|--------------------------------------------------------------|--------------------------------------|
/// | `emptyDirectory`             | no segment                                                   | create segment 1 (new ledger id)     |
/// | `leftoverTemporaryFile`      | `*.seg.tmp` from a crash during segment creation             | remove it                            |
/// | `indexBehind`                | valid frames past the index's durable LSN or `orders_lsn`    | index them (catch up)                |
/// | `indexMissing`               | no index, or another ledger's, or another schema version     | rebuild it from every segment        |
/// | `indexAhead`                 | index durable LSN beyond the last valid record               | stop: durable data is missing        |
/// | `tornTail`                   | last segment ends in damage, no self-consistent frame after, | keep a `.broken` copy of the tail,   |
/// |                              | damage past the durable LSN                                  | truncate, fsync, log bytes dropped   |
/// | `damagedDurableTail`         | as `tornTail`, but the damage holds published LSNs           | stop with path, offset, checksums    |
/// | `damageBeforeValidFrame`     | damage followed by a self-consistent frame                   | stop with path, offset, checksums    |
/// | `damageInSealedSegment`      | any check fails in a segment that is not the last            | stop with path, offset, checksums    |
/// | `unsealedMiddleSegment`      | a segment without footer followed by another segment         | stop                                 |
/// | `brokenChain`                | header's previous digest ≠ previous segment's digest         | stop                                 |
/// | `sealedLastSegment`          | crash between sealing a segment and creating the next        | create the next segment              |
/// | `undurableTail`              | an `UNDURABLE` marker: a write or fsync failed after LSN N   | drop the frames after N (keep a      |
/// |                              | (the page cache cannot be trusted after a failed fsync)      | `.broken` copy), remove the marker   |
struct Recovery {
    let directory: String
    let fileSystem: any FileSystem
    let index: LedgerIndex
    let logger: Logger
    /// Verify mode: the segments are never modified; a torn tail is reported as an error instead of repaired.
    var readOnly = false

    /// The writer's starting point after recovery.
    struct Outcome {
        var ledgerID: UUID
        var lastSegment: SegmentRow
        var lastSegmentSealed: Bool
        var truncatedBytes: Int64
    }

    func run() throws -> Outcome? {
        let segments = try SegmentFiles.list(directory, fileSystem: fileSystem)
        let indexDurableLSN = try index.durableLSN()
        let undurableAfter = try UndurableMarker.read(directory, fileSystem: fileSystem).map { max($0, indexDurableLSN) }
        if let undurableAfter, readOnly {
            throw LedgerError(.corruption, "a writer's write or fsync failed after this LSN; the records after it are not trusted (undurableTail)", [
                ("path", directory + "/" + UndurableMarker.fileName), ("durable_lsn", String(undurableAfter)),
                ("repair", "opening the ledger for writing (ledger-ingest, ledger-tool rebuild index) drops them, keeping a copy"),
            ])
        }
        let marks = IndexMarks(durableLSN: indexDurableLSN, ordersLSN: min(try index.ordersLSN(), indexDurableLSN), undurableAfter: undurableAfter)
        guard !segments.isEmpty else {
            guard indexDurableLSN == 0 else {
                throw LedgerError(.corruption, "the index says records are durable but there is no segment", [("path", directory), ("durable_lsn", String(indexDurableLSN))])
            }
            return nil
        }
        let known = Dictionary(try index.segments().map { ($0.firstLSN, $0) }, uniquingKeysWith: { first, _ in first })
        var batch = IndexBatch()
        var previous: SegmentRow?
        var truncated: Int64 = 0
        var ledgerID: UUID?
        for (position, segment) in segments.enumerated() {
            let isLast = position == segments.count - 1
            var result = try recoverSegment(segment.path, isLast: isLast, known: known[segment.firstLSN], marks: marks, batch: &batch)
            try checkChain(result.row, header: result.header, previous: previous, ledgerID: &ledgerID, path: segment.path)
            truncated += result.truncatedBytes
            result.row.fileName = SegmentFormat.fileName(firstLSN: result.row.firstLSN)
            batch.segments.append(result.row)
            previous = result.row
        }
        let last = previous!
        guard indexDurableLSN <= last.lastLSN else {
            throw LedgerError(.corruption, "the index says more records are durable than the segments hold (indexAhead)", [("path", directory), ("durable_lsn", String(indexDurableLSN)), ("last_lsn_on_disk", String(last.lastLSN))])
        }
        batch.durableLSN = last.lastLSN
        batch.ordersLSN = last.lastLSN
        if try index.ledgerID() == nil { try index.setMeta("ledger_id", ledgerID!.uuidString) }
        if !readOnly { try syncSegments(holding: batch.frames) }
        try index.publish(batch)
        if undurableAfter != nil, !readOnly { try UndurableMarker.remove(directory, fileSystem: fileSystem) }
        return Outcome(ledgerID: ledgerID!, lastSegment: last, lastSegmentSealed: last.sealed, truncatedBytes: truncated)
    }

    /// How far the index was published: everything through `durableLSN`, orders through `ordersLSN`; and, after
    /// a failed write or fsync, the last LSN whose frames can be trusted.
    private struct IndexMarks {
        var durableLSN: UInt64
        var ordersLSN: UInt64
        var undurableAfter: UInt64?
    }

    /// Frames past the index's durable LSN come from a writer that stopped before publishing them, perhaps
    /// before its fsync (a killed process leaves them in the page cache, not yet on disk). They are made
    /// durable before they are published; a segment without such frames costs an fsync with nothing to write.
    private func syncSegments(holding frames: [FrameRow]) throws {
        for firstLSN in Set(frames.map(\.segmentFirstLSN)).sorted() {
            try fileSystem.open(SegmentFiles.path(directory, firstLSN: firstLSN), create: false).sync()
        }
    }

    private struct SegmentResult {
        var header: SegmentHeader
        var row: SegmentRow
        var truncatedBytes: Int64 = 0
    }

    /// Checks one segment. A sealed segment the index already knows is checked cheaply (header and footer);
    /// any other is scanned frame by frame, and records past the durable LSN (orders past `orders_lsn`) are added
    /// to `batch`.
    private func recoverSegment(_ path: String, isLast: Bool, known: SegmentRow?, marks: IndexMarks, batch: inout IndexBatch) throws -> SegmentResult {
        let file = try readOnly ? fileSystem.openForReading(path) : fileSystem.open(path, create: false)
        let scanner = try SegmentScanner(file: file)
        if let known, known.sealed, known.byteLength == scanner.fileSize, known.lastLSN <= marks.ordersLSN,
           try sealedFooterMatches(known, scanner: scanner) {
            return SegmentResult(header: scanner.header, row: known)
        }
        var row = SegmentRow(
            firstLSN: scanner.header.firstLSN, fileName: "", lastLSN: scanner.header.firstLSN - 1, frameCount: 0,
            byteLength: Int64(SegmentFormat.headerBytes), sealed: false, previousDigest: scanner.header.previousSegmentDigest,
            digest: scanner.header.previousSegmentDigest, createdAtMicroseconds: scanner.header.createdAtMicroseconds)
        while true {
            switch try scanner.next() {
            case .frame(let frame):
                if let trusted = marks.undurableAfter, frame.header.firstLSN > trusted {
                    let dropped = try truncateKeepingCopy(file, at: frame.offset, size: scanner.fileSize, event: "ledger.recovery.undurable_tail_dropped",
                                                          reason: ["ledger.durable_lsn": "\(trusted)"])
                    return SegmentResult(header: scanner.header, row: row, truncatedBytes: dropped)
                }
                let records = try frame.records(path: path)
                for (index, record) in records.enumerated() {
                    let lsn = frame.header.firstLSN + UInt64(index)
                    row.note(record)
                    if lsn > marks.durableLSN { batch.note(record, lsn: lsn) }
                    if lsn > marks.ordersLSN { batch.noteOrder(record, lsn: lsn) }
                }
                if frame.header.lastLSN > marks.durableLSN {
                    batch.frames.append(FrameRow(firstLSN: frame.header.firstLSN, segmentFirstLSN: row.firstLSN, byteOffset: frame.offset,
                                                 recordCount: frame.header.recordCount, storedBytes: frame.header.storedLength,
                                                 rawBytes: frame.header.rawLength, crc: frame.header.crc))
                }
                row.lastLSN = frame.header.lastLSN
                row.frameCount += 1
                row.digest = frame.header.crc
                row.byteLength = scanner.position
            case .sealed:
                row.sealed = true
                row.byteLength = scanner.fileSize
                return SegmentResult(header: scanner.header, row: row)
            case .end:
                guard isLast else {
                    throw LedgerError(.corruption, "a segment without footer is followed by another segment (unsealedMiddleSegment)", [("path", path), ("offset", String(scanner.position))])
                }
                return SegmentResult(header: scanner.header, row: row)
            case .damaged(let offset, let violation):
                guard isLast else { throw violation.error(path: path, offset: Int(offset), [("segment", String(row.firstLSN)), ("case", "damageInSealedSegment")]) }
                let dropped = try repairTornTail(file: file, scanner: scanner, at: offset, violation: violation, expectedLSN: row.lastLSN + 1, indexDurableLSN: marks.durableLSN)
                return SegmentResult(header: scanner.header, row: row, truncatedBytes: dropped)
            }
        }
    }

    private func sealedFooterMatches(_ known: SegmentRow, scanner: SegmentScanner) throws -> Bool {
        let offset = scanner.fileSize - Int64(SegmentFormat.footerBytes)
        let bytes = try scanner.file.read(count: SegmentFormat.footerBytes, at: offset)
        guard case .success(let footer) = bytes.withUnsafeBytes({ SegmentFooter.decode($0) }) else {
            throw LedgerError(.corruption, "sealed segment's footer fails its checks (damageInSealedSegment)", [("path", scanner.file.path), ("offset", String(offset))])
        }
        return footer.digest == known.digest && footer.recordCount == known.recordCount && footer.firstLSN == known.firstLSN
    }

    /// `NNN.seg.OFFSET.broken`, or `NNN.seg.OFFSET.K.broken` if that exists: a tail torn again at the same offset
    /// (nothing became durable in between, found by the fault campaign) must not replace the first tail's copy.
    private func freeCopyPath(_ path: String, offset: Int64) -> String {
        var candidate = "\(path).\(offset).broken"
        var number = 2
        while fileSystem.fileExists(candidate) {
            candidate = "\(path).\(offset).\(number).broken"
            number += 1
        }
        return candidate
    }

    /// The torn-tail rule: only damage past the durable LSN, with no self-consistent frame after it, in the last
    /// segment, is a tail that a crash tore. Anything else is corruption and stops recovery.
    private func repairTornTail(file: any LedgerFile, scanner: SegmentScanner, at offset: Int64, violation: FormatViolation, expectedLSN: UInt64, indexDurableLSN: UInt64) throws -> Int64 {
        let context = [("segment", String(scanner.header.firstLSN)), ("lsn", String(expectedLSN))]
        guard expectedLSN > indexDurableLSN else {
            throw violation.error(path: file.path, offset: Int(offset), context + [("durable_lsn", String(indexDurableLSN)), ("case", "damagedDurableTail")])
        }
        if let validFrame = try scanner.selfConsistentFrameExists(after: offset) {
            throw violation.error(path: file.path, offset: Int(offset), context + [("valid_frame_at", String(validFrame)), ("case", "damageBeforeValidFrame")])
        }
        let dropped = scanner.fileSize - offset
        if readOnly {
            throw violation.error(path: file.path, offset: Int(offset), context + [("case", "tornTail"), ("bytes", String(dropped)), ("repair", "opening the ledger for writing truncates it")])
        }
        return try truncateKeepingCopy(file, at: offset, size: scanner.fileSize, event: "ledger.recovery.torn_tail_truncated",
                                       reason: ["ledger.check": "\(violation.check)"])
    }

    /// Copies the bytes from `offset` to the end into a `.broken` file beside the segment, truncates the segment
    /// there, makes both durable and logs `event`. Returns the bytes dropped.
    private func truncateKeepingCopy(_ file: any LedgerFile, at offset: Int64, size: Int64, event: Logger.Message, reason: Logger.Metadata) throws -> Int64 {
        let dropped = size - offset
        let copyPath = freeCopyPath(file.path, offset: offset)
        let copy = try fileSystem.open(copyPath, create: true)
        try copy.write(try file.read(count: Int(dropped), at: offset), at: 0)
        try copy.sync()
        try file.truncate(to: offset)
        try file.sync()
        try fileSystem.syncDirectory(directory)
        logger.warning(event, metadata: reason.merging([
            "ledger.path": "\(file.path)", "ledger.offset": "\(offset)", "ledger.bytes_dropped": "\(dropped)", "ledger.copy": "\(copyPath)",
        ]) { $1 })
        return dropped
    }

    private func checkChain(_ row: SegmentRow, header: SegmentHeader, previous: SegmentRow?, ledgerID: inout UUID?, path: String) throws {
        if let ledgerID, header.ledgerID != ledgerID {
            throw LedgerError(.mismatch, "segment belongs to another ledger", [("path", path), ("expected", ledgerID.uuidString), ("found", header.ledgerID.uuidString)])
        }
        ledgerID = header.ledgerID
        let expectedFirst = (previous?.lastLSN ?? 0) + 1
        let expectedDigest = previous?.digest ?? 0
        guard header.firstLSN == expectedFirst, header.previousSegmentDigest == expectedDigest else {
            throw LedgerError(.corruption, "segments do not chain (brokenChain)", [
                ("path", path), ("expected", "first LSN \(expectedFirst), previous digest \(hex32(expectedDigest))"),
                ("found", "first LSN \(header.firstLSN), previous digest \(hex32(header.previousSegmentDigest))"),
            ])
        }
    }
}
