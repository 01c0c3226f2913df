import Foundation
import Logging
import MessageSchema
import OperatingErrors

/// What `open` (or `verify`) finds on disk, and what it does about it. Each case has a test named after it
/// (`RecoveryTests`, checked exhaustively against this enum).
///
/// "Published" below means at or below the durable LSN the index published (DESIGN.md invariant 9): those
/// records were acknowledged, so nothing may cut them without an operator's counted decision.
///
/// | case                      | found                                                          | action                                  |
/// |---------------------------|----------------------------------------------------------------|-----------------------------------------|
/// | `emptyDirectory`          | no segment                                                     | create segment 1 (new ledger id)        |
/// | `leftoverTemporaryFile`   | `*.seg.tmp` from a crash during segment creation               | remove it                               |
/// | `indexBehind`             | valid frames past the index's durable LSN or `orders_lsn`      | index them (catch up)                   |
/// | `indexMissing`            | no index, or another ledger's, or another schema version       | rebuild it from every segment           |
/// | `indexAhead`              | the segments end before the published durable LSN, undamaged  | stop, unless the operator drops them    |
/// | `tornTail`                | last segment ends in damage past the published durable LSN,    | keep a `.broken` copy of the tail,      |
/// |                           | no self-consistent frame after it                              | truncate, fsync, log bytes dropped      |
/// | `damagedDurableTail`      | as `tornTail`, but the damage holds published LSNs             | stop, unless the operator drops them    |
/// | `durableLSNUnknown`       | damage at the end of the last segment and no index that says   | stop, unless the operator accepts an    |
/// |                           | which LSNs were published                                      | unknown loss                            |
/// | `damageBeforeValidFrame`  | damage followed by a self-consistent frame                     | stop, unless the operator drops them    |
/// | `damageInSealedSegment`   | any check fails in a segment that is not the last              | stop with path, offset, checksums       |
/// | `unsealedMiddleSegment`   | a segment without footer followed by another segment           | stop                                    |
/// | `brokenChain`             | header's previous digest ≠ previous segment's digest           | stop                                    |
/// | `sealedLastSegment`       | crash between sealing a segment and creating the next          | create the next segment                 |
/// | `undurableTail`           | an `UNDURABLE` marker: a write or fsync failed after LSN N     | drop the frames after N (keep a         |
/// |                           | (the page cache cannot be trusted after a failed fsync)        | `.broken` copy), remove the marker      |
/// | `droppedByOperator`       | published LSNs missing or damaged, and `rebuild index          | cut (keeping a copy), then fill the     |
/// |                           | --drop-durable-records N` names exactly that count             | LSNs with `lost` records: none reused   |
///
/// `verify` runs the same checks read-only, through the durable LSN a live index published: it never repairs,
/// and a tail past that LSN (a live writer's next frame, or a crash's unpublished tail) is not damage.
enum RecoveryCase: String, CaseIterable, Sendable {
    case emptyDirectory, leftoverTemporaryFile, indexBehind, indexMissing, indexAhead, tornTail, damagedDurableTail
    case durableLSNUnknown, damageBeforeValidFrame, damageInSealedSegment, unsealedMiddleSegment, brokenChain
    case sealedLastSegment, undurableTail, droppedByOperator
}

/// An operator's counted decision to drop published records that are damaged or missing
/// (`ledger-tool rebuild index --drop-durable-records`). Recovery cuts only when the count it finds is exactly
/// the one given: a number typed after reading the error, not a blanket "repair whatever".
public enum DurableRecordsDrop: Sendable, Hashable, CustomStringConvertible {
    /// Exactly this many published records may be dropped.
    case records(UInt64)
    /// The index that said what was published is gone: the count is unknown, and the operator accepts that.
    case unknownCount

    public var description: String {
        switch self {
        case .records(let count): String(count)
        case .unknownCount: "unknown"
        }
    }
}

struct Recovery {
    let directory: String
    let fileSystem: any FileSystem
    /// The index recovery publishes into (the live one on open, a new one on rebuild, a scratch one on verify).
    let index: LedgerIndex
    let logger: Logger
    /// The last LSN known to be published: the index's durable LSN, or the one a discarded index held (rebuild).
    /// nil when no index says (it was deleted or belonged to another ledger).
    var publishedDurableLSN: UInt64?
    var mode = Mode.open(drop: nil)

    enum Mode {
        /// Opening for writing: repair a torn tail; cut published records only as `drop` says.
        case open(drop: DurableRecordsDrop?)
        /// `verify`: read only, through `throughLSN` (the durable LSN of the live index's snapshot); the live
        /// index's segment rows, to compare the segment being written as of that snapshot.
        case verify(throughLSN: UInt64, liveSegments: [UInt64: SegmentRow])

        var isReadOnly: Bool { if case .verify = self { true } else { false } }
    }

    /// The writer's starting point after recovery.
    struct Outcome {
        var ledgerID: UUID
        var lastSegment: SegmentRow
        var lastSegmentSealed: Bool
        var truncatedBytes: Int64
        /// Published LSNs the operator dropped: the writer fills them with `lost` records, so none is reused.
        var droppedLSNs: ClosedRange<UInt64>?
        /// Bytes after the last record checked (verify: past the live durable LSN; not damage).
        var unpublishedTailBytes: Int64 = 0
    }

    func run() throws -> Outcome? {
        let segments = try segmentSources()
        let marks = try indexMarks()
        guard !segments.isEmpty else {
            guard (publishedDurableLSN ?? 0) == 0 else {
                throw LedgerError(
                    .corruption, "the index says records are durable but there is no segment (indexAhead)",
                    [
                        ("path", directory), ("durable_lsn", String(publishedDurableLSN ?? 0)),
                        ("case", RecoveryCase.indexAhead.rawValue),
                    ])
            }
            return nil
        }
        let known = Dictionary(try index.segments().map { ($0.firstLSN, $0) }, uniquingKeysWith: { first, _ in first })
        var scan = Scan()
        for (position, segment) in segments.enumerated() {
            if case .verify(let through, let live) = mode, segment.evicted == nil,
                segment.firstLSN > through + 1 || (segment.firstLSN == through + 1 && live[segment.firstLSN] == nil)
            {
                scan.unpublishedTailBytes += try fileSystem.openForReading(segment.path).size()
                continue  // Beyond the snapshot verify judges: a live writer's newer segment.
            }
            let isLast = position == segments.count - 1
            var result = try recover(segment, isLast: isLast, known: known[segment.firstLSN], marks: marks, scan: &scan)
            try checkChain(
                result.row, header: result.header, previous: scan.previous, ledgerID: &scan.ledgerID, path: segment.path
            )
            result.row.fileName = SegmentFormat.fileName(firstLSN: result.row.firstLSN)
            scan.batch.segments.append(result.row)
            scan.previous = result.row
        }
        return try finish(scan, marks: marks)
    }

    /// One segment of the ledger: a local file, or one `ledger-tool retain` evicted to the archive.
    private struct SegmentSource {
        var firstLSN: UInt64
        var path: String
        var evicted: EvictedSegment?
    }

    /// The evicted prefix, followed by the local segment files past it (`SegmentFiles.listPastEvicted`).
    private func segmentSources() throws -> [SegmentSource] {
        let segments = try SegmentFiles.listPastEvicted(directory, fileSystem: fileSystem)
        let evicted =
            segments.evicted.map { record in
                record.segments.map {
                    SegmentSource(
                        firstLSN: $0.firstLsn, path: SegmentFiles.path(directory, firstLSN: $0.firstLsn),
                        evicted: EvictedSegment(ledgerID: record.ledgerID, archived: $0))
                }
            } ?? []
        return evicted + segments.local.map { SegmentSource(firstLSN: $0.firstLSN, path: $0.path) }
    }

    /// Recovers one segment, local or evicted. A local file that `retain` evicts after the directory was listed
    /// (it runs beside ledger-ingest and takes no writer lock) is gone when opened: the record, read again, names
    /// it then, and it is recovered as evicted.
    private func recover(
        _ segment: SegmentSource, isLast: Bool, known: SegmentRow?, marks: IndexMarks, scan: inout Scan
    ) throws -> SegmentResult {
        if let evicted = segment.evicted { return try recoverEvicted(evicted, known: known, marks: marks, scan: &scan) }
        do {
            return try recoverSegment(segment.path, isLast: isLast, known: known, marks: marks, scan: &scan)
        } catch let error as LedgerError where error.context("errno") == String(ENOENT) {
            guard !isLast, let record = try EvictedSegments.read(in: directory),
                let archived = record.entry(firstLSN: segment.firstLSN)
            else { throw error }
            let evicted = EvictedSegment(ledgerID: record.ledgerID, archived: archived)
            return try recoverEvicted(evicted, known: known, marks: marks, scan: &scan)
        }
    }

    /// An evicted segment the index already holds whole (the usual open) is taken from the index: it was verified
    /// in the archive before its file was removed, and it never changes. Otherwise (a rebuilt index, `verify`)
    /// it is fetched from the archive, checked against the record, and scanned like a local file.
    private func recoverEvicted(
        _ evicted: EvictedSegment, known: SegmentRow?, marks: IndexMarks, scan: inout Scan
    ) throws -> SegmentResult {
        scan.evictedFirstLSNs.insert(evicted.archived.firstLsn)
        if !mode.isReadOnly, let known, known.sealed, evicted.archived.describes(known),
            known.lastLSN <= marks.ordersLSN
        {
            let header = SegmentHeader(
                ledgerID: evicted.ledgerID, firstLSN: known.firstLSN, previousSegmentDigest: known.previousDigest,
                createdAtMicroseconds: known.createdAtMicroseconds)
            return SegmentResult(header: header, row: known)
        }
        guard let path = try scan.fetcher(directory).fetchedPath(firstLSN: evicted.archived.firstLsn) else {
            preconditionFailure("the record read at the start names the segment")
        }
        let location = [
            ("archive_object", "\(evicted.ledgerID.text)/segments/\(evicted.archived.file)"),
            ("record", directory + "/" + EvictedSegments.fileName),
        ]
        var result: SegmentResult
        do {
            result = try recoverSegment(path, isLast: false, known: nil, marks: marks, scan: &scan)
        } catch let error as LedgerError {
            // The path of the fetched copy is a temporary file: say which archived object it was.
            throw LedgerError(error.code, error.message, error.context + location)
        }
        result.row.fileName = evicted.archived.file
        guard result.row.sealed, evicted.archived.describes(result.row) else {
            throw LedgerError(
                .corruption, "an evicted segment fetched from the archive is not the one its record names",
                location + [
                    ("expected", Self.summary(evicted.archived)), ("found", Self.summary(result.row)),
                ])
        }
        return result
    }

    private static func summary(_ entry: LedgerArchive.Entry) -> String {
        "sealed, LSNs \(entry.firstLsn)...\(entry.lastLsn), \(entry.bytes) bytes, digest \(hex32(entry.digest))"
    }

    private static func summary(_ row: SegmentRow) -> String {
        "\(row.sealed ? "sealed" : "unsealed"), LSNs \(row.firstLSN)...\(row.lastLSN), \(row.byteLength) bytes, digest \(hex32(row.digest))"
    }

    /// Publishes what the scan found and says where the writer starts.
    private func finish(_ scan: Scan, marks: IndexMarks) throws -> Outcome {
        var scan = scan
        let last = scan.previous!
        let dropped = try checkNothingPublishedIsMissing(lastLSN: last.lastLSN)
        scan.batch.durableLSN = last.lastLSN
        scan.batch.ordersLSN = last.lastLSN
        if try index.ledgerID() == nil { try index.setMeta("ledger_id", scan.ledgerID!.uuidString) }
        if !mode.isReadOnly {
            try syncSegments(holding: scan.batch.frames.filter { !scan.evictedFirstLSNs.contains($0.segmentFirstLSN) })
        }
        try index.publish(scan.batch)
        if marks.undurableAfter != nil, !mode.isReadOnly {
            try UndurableMarker.remove(directory, fileSystem: fileSystem)
        }
        return Outcome(
            ledgerID: scan.ledgerID!, lastSegment: last, lastSegmentSealed: last.sealed,
            truncatedBytes: scan.truncatedBytes,
            droppedLSNs: dropped, unpublishedTailBytes: scan.unpublishedTailBytes)
    }

    /// What the scan carries from segment to segment.
    private struct Scan {
        var batch = IndexBatch()
        var previous: SegmentRow?
        var ledgerID: UUID?
        var truncatedBytes: Int64 = 0
        var unpublishedTailBytes: Int64 = 0
        /// Segments read from the archive: they have no local file to fsync.
        var evictedFirstLSNs: Set<UInt64> = []
        private var cache: EvictedSegmentCache?

        /// Fetches evicted segments for this scan; its temporary files go with it.
        mutating func fetcher(_ directory: String) -> EvictedSegmentCache {
            if let cache { return cache }
            let made = EvictedSegmentCache(directory: directory)
            cache = made
            return made
        }
    }

    /// How far the index recovery publishes into already holds the ledger: everything through `durableLSN`,
    /// orders through `ordersLSN`; and, after a failed write or fsync, the last LSN whose frames can be trusted.
    private struct IndexMarks {
        var durableLSN: UInt64
        var ordersLSN: UInt64
        var undurableAfter: UInt64?
        /// Verify: the last LSN to check.
        var throughLSN: UInt64 = .max
    }

    /// The index's own marks say what it already holds (nothing, for a rebuild into a new file); the published
    /// durable LSN, which may come from a replaced index, is what damage is judged against.
    private func indexMarks() throws -> IndexMarks {
        let held = try index.durableLSN()
        let undurable = try UndurableMarker.read(directory, fileSystem: fileSystem).map {
            max($0, publishedDurableLSN ?? held)
        }
        var marks = IndexMarks(durableLSN: held, ordersLSN: min(try index.ordersLSN(), held), undurableAfter: undurable)
        if case .verify(let through, _) = mode {
            // The marker's frames lie past the durable LSN verify judges: the next open drops them (reported).
            marks = IndexMarks(durableLSN: through, ordersLSN: 0, undurableAfter: nil, throughLSN: through)
        }
        return marks
    }

    /// Stops when the segments end before the published durable LSN (`indexAhead`), unless the operator's count
    /// matches. Returns the published LSNs dropped, which the writer fills with `lost` records.
    private func checkNothingPublishedIsMissing(lastLSN: UInt64) throws -> ClosedRange<UInt64>? {
        guard let published = publishedDurableLSN, published > lastLSN else { return nil }
        if case .verify = mode { return nil }  // The scan stopped at the snapshot's durable LSN.
        let missing = published - lastLSN
        guard case .open(.records(missing)) = mode else {
            throw LedgerError(
                .corruption, "the index says more records are durable than the segments hold (indexAhead)",
                [
                    ("path", directory), ("durable_lsn", String(published)), ("last_lsn_on_disk", String(lastLSN)),
                    ("case", RecoveryCase.indexAhead.rawValue), ("published_records_missing", String(missing)),
                    (
                        "repair",
                        "restore the ledger from a backup, or accept the loss: ledger-tool rebuild index --wal \(directory) --drop-durable-records \(missing)"
                    ),
                ])
        }
        logger.critical(
            "ledger.recovery.durable_records_dropped",
            metadata: [
                "ledger.path": "\(directory)", "ledger.first_lsn": "\(lastLSN + 1)",
                "ledger.durable_lsn": "\(published)", "ledger.case": "\(RecoveryCase.droppedByOperator)",
            ])
        return (lastLSN + 1)...published
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
    }

    /// Checks one segment. A sealed segment the index already knows is checked cheaply (header and footer);
    /// any other is scanned frame by frame, and records past the durable LSN (orders past `orders_lsn`) are added
    /// to the scan's batch.
    private func recoverSegment(_ path: String, isLast: Bool, known: SegmentRow?, marks: IndexMarks, scan: inout Scan)
        throws -> SegmentResult
    {
        let file = try mode.isReadOnly ? fileSystem.openForReading(path) : fileSystem.open(path, create: false)
        let scanner = try SegmentScanner(file: file)
        if let known, known.sealed, known.byteLength == scanner.fileSize, known.lastLSN <= marks.ordersLSN,
            try sealedFooterMatches(known, scanner: scanner)
        {
            return SegmentResult(header: scanner.header, row: known)
        }
        var row = SegmentRow(
            firstLSN: scanner.header.firstLSN, fileName: "", lastLSN: scanner.header.firstLSN - 1, frameCount: 0,
            byteLength: Int64(SegmentFormat.headerBytes), sealed: false,
            previousDigest: scanner.header.previousSegmentDigest,
            digest: scanner.header.previousSegmentDigest, createdAtMicroseconds: scanner.header.createdAtMicroseconds)
        while row.lastLSN < marks.throughLSN {
            switch try scanner.next() {
            case .frame(let frame):
                if let trusted = marks.undurableAfter, frame.header.firstLSN > trusted {
                    scan.truncatedBytes += try truncateKeepingCopy(
                        file, at: frame.offset, size: scanner.fileSize, event: "ledger.recovery.undurable_tail_dropped",
                        reason: ["ledger.durable_lsn": "\(trusted)", "ledger.case": "\(RecoveryCase.undurableTail)"])
                    return SegmentResult(header: scanner.header, row: row)
                }
                try note(frame, path: path, row: &row, marks: marks, scan: &scan)
                row.byteLength = scanner.position
            case .sealed:
                row.sealed = true
                row.byteLength = scanner.fileSize
                return SegmentResult(header: scanner.header, row: row)
            case .end:
                guard isLast else {
                    throw LedgerError(
                        .corruption, "a segment without footer is followed by another segment (unsealedMiddleSegment)",
                        [
                            ("path", path), ("offset", String(scanner.position)),
                            ("case", RecoveryCase.unsealedMiddleSegment.rawValue),
                        ])
                }
                return SegmentResult(header: scanner.header, row: row)
            case .damaged(let offset, let violation):
                guard isLast else {
                    throw violation.error(
                        path: path, offset: Int(offset),
                        [("segment", String(row.firstLSN)), ("case", RecoveryCase.damageInSealedSegment.rawValue)])
                }
                let damage = Damage(
                    file: file, scanner: scanner, offset: offset, violation: violation, firstLSN: row.lastLSN + 1)
                scan.truncatedBytes += try repairDamagedTail(damage, marks: marks)
                return SegmentResult(header: scanner.header, row: row)
            }
        }
        return try verifiedThrough(row, scanner: scanner, scan: &scan)
    }

    /// Verify reached the snapshot's durable LSN inside this segment: the row as the live index published it
    /// (sealed only if the live index says so: a seal not yet published is a live writer's, not damage), and
    /// the bytes after it as an unpublished tail.
    private func verifiedThrough(_ row: SegmentRow, scanner: SegmentScanner, scan: inout Scan) throws -> SegmentResult {
        var row = row
        guard case .verify(_, let live) = mode else { preconditionFailure("only verify stops at an LSN") }
        if live[row.firstLSN]?.sealed == true, case .sealed = try scanner.next() {
            row.sealed = true
            row.byteLength = scanner.fileSize
        }
        scan.unpublishedTailBytes += scanner.fileSize - row.byteLength
        return SegmentResult(header: scanner.header, row: row)
    }

    /// Adds what one frame's records tell the index. Orders go to the index in batches of
    /// `Limits.orderIndexBatchOrdersMax`, so rebuilding a ledger of any size holds a bounded number in memory.
    private func note(_ frame: ScannedFrame, path: String, row: inout SegmentRow, marks: IndexMarks, scan: inout Scan)
        throws
    {
        let records = try frame.records(path: path)
        for (index, record) in records.enumerated() {
            let lsn = frame.header.firstLSN + UInt64(index)
            row.note(record)
            if lsn > marks.durableLSN || mode.isReadOnly { scan.batch.note(record, lsn: lsn) }
            if lsn > marks.ordersLSN { scan.batch.noteOrder(record, lsn: lsn) }
        }
        if frame.header.lastLSN > marks.durableLSN || mode.isReadOnly {
            scan.batch.frames.append(
                FrameRow(
                    firstLSN: frame.header.firstLSN, segmentFirstLSN: row.firstLSN, byteOffset: frame.offset,
                    recordCount: frame.header.recordCount, storedBytes: frame.header.storedLength,
                    rawBytes: frame.header.rawLength, crc: frame.header.crc))
        }
        if scan.batch.orders.count >= Limits.orderIndexBatchOrdersMax {
            try index.insertOrders(scan.batch.orders)
            scan.batch.orders.removeAll(keepingCapacity: true)
        }
        row.lastLSN = frame.header.lastLSN
        row.frameCount += 1
        row.digest = frame.header.crc
    }

    private func sealedFooterMatches(_ known: SegmentRow, scanner: SegmentScanner) throws -> Bool {
        let offset = scanner.fileSize - Int64(SegmentFormat.footerBytes)
        let bytes = try scanner.file.read(count: SegmentFormat.footerBytes, at: offset)
        guard case .success(let footer) = bytes.withUnsafeBytes({ SegmentFooter.decode($0) }) else {
            throw LedgerError(
                .corruption, "sealed segment's footer fails its checks (damageInSealedSegment)",
                [
                    ("path", scanner.file.path), ("offset", String(offset)),
                    ("case", RecoveryCase.damageInSealedSegment.rawValue),
                ])
        }
        return footer.digest == known.digest && footer.recordCount == known.recordCount
            && footer.firstLSN == known.firstLSN
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

    /// Damage found in the last segment: where, what, and the LSN the damaged frame would have started.
    private struct Damage {
        var file: any LedgerFile
        var scanner: SegmentScanner
        var offset: Int64
        var violation: FormatViolation
        var firstLSN: UInt64

        func error(_ recoveryCase: RecoveryCase, _ extra: [(String, String)] = []) -> LedgerError {
            violation.error(
                path: file.path, offset: Int(offset),
                [
                    ("segment", String(scanner.header.firstLSN)), ("lsn", String(firstLSN)),
                    ("case", recoveryCase.rawValue),
                ] + extra)
        }
    }

    /// The torn-tail rule: only damage past the published durable LSN, with no self-consistent frame after it,
    /// in the last segment, is a tail that a crash tore. Anything else is corruption and stops recovery, unless
    /// the operator's counted decision (`Mode.open(drop:)`) names exactly the published records it costs.
    private func repairDamagedTail(_ damage: Damage, marks: IndexMarks) throws -> Int64 {
        let bytes = damage.scanner.fileSize - damage.offset
        let validFrame = try damage.scanner.selfConsistentFrameExists(after: damage.offset)
        if case .verify = mode {
            // Damage at or below the snapshot's durable LSN: the scan stops at that LSN, so any damage it meets is.
            throw damage.error(
                validFrame == nil ? .damagedDurableTail : .damageBeforeValidFrame,
                [("durable_lsn", String(marks.throughLSN))])
        }
        guard let published = publishedDurableLSN else {
            if let validFrame { throw damage.error(.damageBeforeValidFrame, [("valid_frame_at", String(validFrame))]) }
            return try cutPublished(
                damage, allowedBy: .unknownCount, refusal: .durableLSNUnknown,
                [
                    ("durable_lsn", "unknown (no index says what was published)"),
                    ("bytes_after_damage", String(bytes)),
                ])
        }
        guard damage.firstLSN <= published else {
            if let validFrame { throw damage.error(.damageBeforeValidFrame, [("valid_frame_at", String(validFrame))]) }
            return try truncateKeepingCopy(
                damage.file, at: damage.offset, size: damage.scanner.fileSize,
                event: "ledger.recovery.torn_tail_truncated",
                reason: ["ledger.check": "\(damage.violation.check)", "ledger.case": "\(RecoveryCase.tornTail)"])
        }
        let count = published - damage.firstLSN + 1
        return try cutPublished(
            damage, allowedBy: .records(count),
            refusal: validFrame == nil ? .damagedDurableTail : .damageBeforeValidFrame,
            [("durable_lsn", String(published)), ("published_records_after_damage", String(count))]
                + (validFrame.map { [("valid_frame_at", String($0))] } ?? []))
    }

    /// Cuts published records at the damage if the operator allowed exactly `allowance`; otherwise stops with
    /// `refusal`, saying what the cut would cost and how to allow it.
    private func cutPublished(
        _ damage: Damage, allowedBy allowance: DurableRecordsDrop, refusal: RecoveryCase,
        _ context: [(String, String)]
    ) throws -> Int64 {
        guard case .open(let drop) = mode, drop == allowance else {
            throw damage.error(
                refusal,
                context + [
                    (
                        "repair",
                        "restore the ledger from a backup, or accept the loss: ledger-tool rebuild index --wal \(directory) --drop-durable-records \(allowance)"
                    )
                ])
        }
        return try truncateKeepingCopy(
            damage.file, at: damage.offset, size: damage.scanner.fileSize,
            event: "ledger.recovery.durable_records_dropped",
            reason: [
                "ledger.check": "\(damage.violation.check)", "ledger.case": "\(RecoveryCase.droppedByOperator)",
                "ledger.first_lsn_dropped": "\(damage.firstLSN)", "ledger.records_dropped": "\(allowance)",
            ])
    }

    /// Copies the bytes from `offset` to the end into a `.broken` file beside the segment, truncates the segment
    /// there, makes both durable and logs `event`. Returns the bytes dropped.
    private func truncateKeepingCopy(
        _ file: any LedgerFile, at offset: Int64, size: Int64, event: Logger.Message, reason: Logger.Metadata
    ) throws -> Int64 {
        precondition(!mode.isReadOnly, "verify never modifies a ledger")
        let dropped = size - offset
        let copyPath = freeCopyPath(file.path, offset: offset)
        let copy = try fileSystem.open(copyPath, create: true)
        try copy.write(try file.read(count: Int(dropped), at: offset), at: 0)
        try copy.sync()
        try file.truncate(to: offset)
        try file.sync()
        try fileSystem.syncDirectory(directory)
        logger.warning(
            event,
            metadata: reason.merging([
                "ledger.path": "\(file.path)", "ledger.offset": "\(offset)", "ledger.bytes_dropped": "\(dropped)",
                "ledger.copy": "\(copyPath)",
            ]) { $1 })
        return dropped
    }

    private func checkChain(
        _ row: SegmentRow, header: SegmentHeader, previous: SegmentRow?, ledgerID: inout UUID?, path: String
    ) throws {
        if let ledgerID, header.ledgerID != ledgerID {
            throw LedgerError(
                .mismatch, "segment belongs to another ledger",
                [("path", path), ("expected", ledgerID.text), ("found", header.ledgerID.text)])
        }
        ledgerID = header.ledgerID
        let expectedFirst = (previous?.lastLSN ?? 0) + 1
        let expectedDigest = previous?.digest ?? 0
        guard header.firstLSN == expectedFirst, header.previousSegmentDigest == expectedDigest else {
            throw LedgerError(
                .corruption, "segments do not chain (brokenChain)",
                [
                    ("path", path),
                    ("expected", "first LSN \(expectedFirst), previous digest \(hex32(expectedDigest))"),
                    ("found", "first LSN \(header.firstLSN), previous digest \(hex32(header.previousSegmentDigest))"),
                    ("case", RecoveryCase.brokenChain.rawValue),
                ])
        }
    }
}
