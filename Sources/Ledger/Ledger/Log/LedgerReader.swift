import Foundation
import MessageSchema
import OperatingErrors

/// Reads a ledger directory, concurrently with its writer, up to the durable LSN the writer published.
/// Every frame is checked (checksum, chain, decoding) as it is read.
public final class LedgerReader {
    public let directory: String
    public let ledgerID: UUID
    private(set) var index: LedgerIndex
    let fileSystem: any FileSystem
    /// Opens segment files, fetching from the archive those `ledger-tool retain` evicted.
    let segmentFiles: EvictedSegmentCache
    /// Which file the open index is: `rebuild index` puts a new file in its place, which a reader holding the
    /// old one would never see (it kept the unlinked file and its old durable LSN forever, issue 11).
    private var indexFile: FileIdentity
    /// How many times the index was found replaced and reopened: a caller positioned by the old index re-reads
    /// where it stands when this changes.
    public private(set) var indexGeneration = 0

    /// `environment` holds the AWS variables, for segments evicted to an `s3://` archive.
    public init(
        directory: String, fileSystem: any FileSystem = PosixFileSystem(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        let path = try LedgerIndex.requiredPath(
            in: directory, fileSystem: fileSystem, without: "Nothing can be read without it.")
        self.directory = directory
        self.fileSystem = fileSystem
        segmentFiles = EvictedSegmentCache(directory: directory, environment: environment)
        indexFile = try FileIdentity(path: path)
        index = try LedgerIndex(path: path)
        guard let ledgerID = try index.ledgerID() else {
            // ledger-ingest creates the index, then writes the ledger id into it: a reader that comes in between
            // (a projector started beside ingest) must wait, not fail (CI's chaos seed 47907279).
            throw LedgerError(
                .notCreated, "the ledger index names no ledger id yet (its writer is creating the ledger)",
                [("path", path)])
        }
        self.ledgerID = ledgerID
    }

    /// The last LSN the writer has made durable and published, from the index now in place.
    public func durableLSN() throws -> UInt64 {
        try reopenIndexIfReplaced()
        return try index.durableLSN()
    }

    /// Reopens the index when another file took its path (a stat per call: readers poll this every few
    /// milliseconds, and it costs microseconds).
    private func reopenIndexIfReplaced() throws {
        let path = directory + "/" + LedgerIndex.fileName
        let current = try FileIdentity(path: path)
        guard current != indexFile else { return }
        let reopened = try LedgerIndex(path: path)
        guard let reopenedID = try reopened.ledgerID(), reopenedID == ledgerID else {
            throw LedgerError(
                .mismatch, "the ledger index was replaced by another ledger's",
                [
                    ("path", path), ("expected", ledgerID.text),
                    ("found", (try? reopened.ledgerID())??.text ?? "none"),
                ])
        }
        index = reopened
        indexFile = current
        indexGeneration += 1
    }

    /// A cursor that yields records from `lsn` on.
    public func cursor(from lsn: UInt64 = 1) -> LedgerCursor { LedgerCursor(reader: self, from: max(lsn, 1)) }

    /// What the index knows of each segment.
    public func segments() throws -> [SegmentRow] { try index.segments() }

    /// The published watermark of every partition.
    public func watermarks() throws -> [TopicPartition: Watermark] { try index.watermarks() }

    /// Record counts by kind and, for rejected records, reason.
    public func recordCounts() throws -> [(kind: RecordKind, reason: RejectReason?, count: Int)] {
        try index.recordCounts().sorted { $0.key < $1.key }.compactMap { key, count in
            RecordKind(rawValue: key.kind).map { ($0, RejectReason(rawValue: key.reason), count) }
        }
    }

    /// The LSN of the accepted record for `orderID`, if any: from the order index, or else from the durable
    /// records the writer has not yet inserted into it (at most `Limits.orderIndexBatchOrdersMax` orders).
    public func acceptedLSN(of orderID: UUID) throws -> UInt64? {
        if let indexed = try index.acceptedLSN(orderID) { return indexed }
        let cursor = cursor(from: try index.ordersLSN() + 1)
        while true {
            let entries = try cursor.next(maxRecords: 16_384)
            if entries.isEmpty { return nil }
            if let found = entries.first(where: {
                $0.record.kind == .accepted && $0.record.transaction?.orderID == orderID
            }) {
                return found.lsn
            }
        }
    }

    /// The durable record at `lsn`.
    public func record(at lsn: UInt64) throws -> Record {
        guard lsn >= 1, lsn <= (try durableLSN()), let frame = try index.frame(containing: lsn) else {
            throw LedgerError(
                .invalidArgument, "no durable record at that LSN",
                [("lsn", String(lsn)), ("durable_lsn", String(try durableLSN()))])
        }
        let file = try segmentFiles.open(firstLSN: frame.segmentFirstLSN, fileSystem: fileSystem)
        return try SegmentFiles.readFrame(file, frame)[Int(lsn - frame.firstLSN)]
    }

    /// The frame (segment file and byte offset) holding `lsn`.
    public func location(of lsn: UInt64) throws -> (segment: String, byteOffset: Int64)? {
        try index.frame(containing: lsn).map { (SegmentFormat.fileName(firstLSN: $0.segmentFirstLSN), $0.byteOffset) }
    }
}

/// Iterates a ledger's durable records in LSN order. Call `next` again after it returns fewer records than
/// asked for: it picks up whatever the writer made durable since.
public final class LedgerCursor {
    private let reader: LedgerReader
    /// The LSN of the next record this cursor returns.
    public private(set) var nextLSN: UInt64
    private var scanner: SegmentScanner?
    private var buffered: [Record] = []
    private var bufferedFirstLSN: UInt64 = 0

    init(reader: LedgerReader, from lsn: UInt64) {
        self.reader = reader
        nextLSN = lsn
    }

    /// Up to `maxRecords` records from `nextLSN` on, stopping at the durable LSN (or `limit`, if lower).
    public func next(maxRecords: Int, through limit: UInt64 = .max) throws -> [LedgerEntry] {
        precondition(maxRecords > 0, "ask for at least one record")
        let end = min(try reader.durableLSN(), limit)
        var entries: [LedgerEntry] = []
        while entries.count < maxRecords && nextLSN <= end {
            if nextLSN < bufferedFirstLSN + UInt64(buffered.count) && nextLSN >= bufferedFirstLSN {
                entries.append(LedgerEntry(lsn: nextLSN, record: buffered[Int(nextLSN - bufferedFirstLSN)]))
                nextLSN += 1
            } else {
                try loadFrame(holding: nextLSN)
            }
        }
        return entries
    }

    /// Reads the frame holding `lsn`. A scanner knows the file's size from when it opened, so at the end of a
    /// segment (sealed, or open but grown since) or at a frame that seemed to run past the end (written after
    /// the scanner looked), it reopens through the index once; a durable LSN still not readable is corruption.
    private func loadFrame(holding lsn: UInt64) throws {
        for attempt in 0..<2 {
            if scanner == nil { try open(at: lsn) }
            guard let scanner else { preconditionFailure("open sets the scanner") }
            switch try scanner.next() {
            case .frame(let frame):
                buffered = try frame.records(path: scanner.file.path)
                bufferedFirstLSN = frame.header.firstLSN
                return
            case .sealed, .end:
                self.scanner = nil
            case .damaged where attempt == 0:
                self.scanner = nil
            case .damaged(let offset, let violation):
                throw violation.error(path: scanner.file.path, offset: Int(offset), [("lsn", String(lsn))])
            }
        }
        throw LedgerError(
            .corruption, "a durable LSN is missing from the segments",
            [("lsn", String(lsn)), ("path", reader.directory)])
    }

    /// Positions a scanner on the frame holding `lsn`, found through the index.
    private func open(at lsn: UInt64) throws {
        guard let frame = try reader.index.frame(containing: lsn) else {
            throw LedgerError(.index, "the index has no frame for a durable LSN", [("lsn", String(lsn))])
        }
        let file = try reader.segmentFiles.open(firstLSN: frame.segmentFirstLSN, fileSystem: reader.fileSystem)
        let scanner = try SegmentScanner(file: file)
        scanner.seek(toFrameAt: frame.byteOffset, firstLSN: frame.firstLSN)
        self.scanner = scanner
    }
}
