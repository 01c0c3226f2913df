import Foundation
import Logging
import MessageSchema
import OperatingErrors

/// Operator actions on a whole ledger directory: verify, rebuild the index, statistics.
public enum LedgerMaintenance {
    /// What `verify` found.
    public struct VerifyReport: Sendable {
        public var segments: Int
        /// The records checked: every record through the durable LSN.
        public var records: UInt64
        /// The durable LSN the live index published when verify began (its snapshot).
        public var durableLSN: UInt64
        /// Index rows that differ from an index rebuilt from the segments ("-" only in the live index,
        /// "+" only in the rebuilt one): the first few, and how many in all.
        public var indexDifferences: [String]
        public var indexDifferenceCount: Int
        /// Bytes past the durable LSN: a live writer's next frames, or a crash's unpublished tail that the next
        /// open checks (and, if torn, truncates). Not damage.
        public var unpublishedTailBytes: Int64
        /// Set when a writer's write or fsync failed: the next open drops the frames after this LSN.
        public var undurableAfterLSN: UInt64?
        public var isConsistent: Bool { indexDifferenceCount == 0 }
    }

    /// Checks every record through the durable LSN the live index published (checksums, chain, decoding,
    /// footers) and compares the index with one rebuilt from those segments alone.
    ///
    /// Never modifies the ledger and takes no lock: it may run beside ledger-ingest. It reads the live index
    /// inside one read transaction (a snapshot), so everything it compares is as of one durable LSN, and it
    /// judges damage against that LSN: damage at or below it is corruption (thrown, with path, offset,
    /// checksums and the recovery case), a tail past it is reported, not judged. Memory stays bounded whatever
    /// the ledger's size: the rebuilt index is a scratch SQLite file, compared in one ordered pass.
    public static func verify(
        directory: String, fileSystem: any FileSystem = PosixFileSystem(), logger: Logger = LedgerOptions.quietLogger
    ) throws -> VerifyReport {
        guard fileSystem.fileExists(directory) else {
            throw LedgerError(.invalidArgument, "no such ledger directory", [("path", directory)])
        }
        let livePath = try LedgerIndex.requiredPath(
            in: directory, fileSystem: fileSystem, without: "The durable LSN is unknown without it.")
        let live = try LedgerIndex(path: livePath, readOnly: true)
        try live.database.execute("BEGIN")
        defer { try? live.database.execute("ROLLBACK") }
        let durable = try live.durableLSN()
        let scratch = NSTemporaryDirectory() + "pulse-ledger-verify-\(UUID().uuidString)"
        try fileSystem.makeDirectory(scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let rebuilt = try LedgerIndex(path: scratch + "/" + LedgerIndex.fileName)
        try rebuilt.setMeta("schema_version", try live.meta("schema_version") ?? String(LedgerIndex.schemaVersion))
        var recovery = Recovery(
            directory: directory, fileSystem: fileSystem, index: rebuilt, logger: logger, publishedDurableLSN: durable)
        recovery.mode = .verify(
            throughLSN: durable,
            liveSegments: Dictionary(
                try live.segments().map { ($0.firstLSN, $0) }, uniquingKeysWith: { first, _ in first }))
        let outcome = try recovery.run()
        let checkedThrough = outcome?.lastSegment.lastLSN ?? 0
        guard checkedThrough == durable else {
            throw LedgerError(
                .corruption, "the index says more records are durable than the segments hold (indexAhead)",
                [
                    ("path", directory), ("durable_lsn", String(durable)), ("last_lsn_on_disk", String(checkedThrough)),
                    ("case", RecoveryCase.indexAhead.rawValue),
                ])
        }
        let comparison = try IndexComparison(
            live: live, rebuilt: rebuilt, ordersThrough: min(try live.ordersLSN(), durable))
        return VerifyReport(
            segments: try SegmentFiles.countWithEvicted(directory, fileSystem: fileSystem), records: durable,
            durableLSN: durable,
            indexDifferences: comparison.differences, indexDifferenceCount: comparison.differenceCount,
            unpublishedTailBytes: outcome?.unpublishedTailBytes ?? 0,
            undurableAfterLSN: try UndurableMarker.read(directory, fileSystem: fileSystem))
    }

    /// What `rebuild index` did.
    public struct RebuildReport: Sendable {
        /// The durable LSN the replaced index had published; nil when there was no readable index of this ledger.
        public var previousDurableLSN: UInt64?
        public var durableLSN: UInt64
        /// Bytes recovery cut from the last segment (a torn tail, or damage the operator chose to drop), kept in
        /// `.broken` copies beside it.
        public var truncatedBytes: Int64
    }

    /// Builds a new index from the segments in a file of its own and, once it is complete, puts it in place of
    /// the live one. Takes the writer lock (ledger-ingest must be stopped); readers notice the new index.
    ///
    /// Recovery runs as on any open, judged against the durable LSN the old index published: a torn tail past
    /// it is truncated (keeping a copy), but published records are never cut unless `drop` names exactly how
    /// many (DESIGN.md invariant 9); then each dropped LSN gets a `lost` record, so none is ever reused. When
    /// it refuses, the live index is left as it was.
    public static func rebuildIndex(
        directory: String, options: LedgerOptions = LedgerOptions(), drop: DurableRecordsDrop? = nil
    ) throws -> RebuildReport {
        let fileSystem = options.fileSystem
        let lock = try WriterLock.take(directory, fileSystem: fileSystem)
        let previous = publishedDurableLSN(directory, fileSystem: fileSystem, logger: options.logger)
        try LedgerIndex.remove(
            directory: directory, fileName: LedgerWriter.IndexRebuild.fileName, fileSystem: fileSystem)
        let report: RebuildReport
        do {
            let writer = try LedgerWriter(
                directory: directory, options: options, lock: lock,
                rebuild: LedgerWriter.IndexRebuild(publishedDurableLSN: previous, drop: drop))
            try writer.close()
            report = RebuildReport(
                previousDurableLSN: previous, durableLSN: writer.durableLSN,
                truncatedBytes: writer.recoveredTruncatedBytes)
        } catch {
            // Refused or failed: the live index stays as it was, and the half-built one goes.
            try? LedgerIndex.remove(
                directory: directory, fileName: LedgerWriter.IndexRebuild.fileName, fileSystem: fileSystem)
            throw error
        }
        try swapInRebuiltIndex(directory, fileSystem: fileSystem)
        return report
    }

    /// The durable LSN the live index published for the ledger in `directory`, nil when no readable index of
    /// this ledger says.
    private static func publishedDurableLSN(_ directory: String, fileSystem: any FileSystem, logger: Logger) -> UInt64?
    {
        let path = directory + "/" + LedgerIndex.fileName
        guard fileSystem.fileExists(path) else { return nil }
        do {
            let index = try LedgerIndex(path: path, readOnly: true)
            let first = try SegmentFiles.list(directory, fileSystem: fileSystem).first
            let onDisk = try first.map { try SegmentScanner(file: fileSystem.openForReading($0.path)).header.ledgerID }
            guard let id = try index.ledgerID(), id == onDisk else { return nil }
            return try index.durableLSN()
        } catch {
            logger.warning(
                "ledger.rebuild.old_index_unreadable", metadata: ["ledger.path": "\(path)", "ledger.error": "\(error)"])
            return nil
        }
    }

    /// Replaces the live index with the rebuilt one. The rebuilt file is first made self-contained (rollback
    /// journal: its WAL checkpointed and gone), then the live index's WAL and shared-memory files are removed
    /// (a new database must never meet another's WAL), then the rename, then a directory fsync.
    private static func swapInRebuiltIndex(_ directory: String, fileSystem: any FileSystem) throws {
        let rebuiltPath = directory + "/" + LedgerWriter.IndexRebuild.fileName
        do {
            let rebuilt = try SQLiteDatabase(path: rebuiltPath)
            try rebuilt.execute("PRAGMA journal_mode=DELETE")
        }
        for suffix in ["-wal", "-shm"] {
            let path = directory + "/" + LedgerIndex.fileName + suffix
            if fileSystem.fileExists(path) { try fileSystem.remove(path) }
        }
        try fileSystem.rename(rebuiltPath, to: directory + "/" + LedgerIndex.fileName)
        try fileSystem.syncDirectory(directory)
    }

    /// Counts and sizes for `ledger-tool stats`.
    public struct Stats: Sendable {
        public var ledgerID: UUID
        public var durableLSN: UInt64
        public var firstLSN: UInt64?
        public var segments: Int
        public var segmentBytes: Int64
        public var indexBytes: Int64
        public var counts: [(kind: RecordKind, reason: RejectReason?, count: Int)]
        public var watermarks: [TopicPartition: Watermark]
        /// First and last ingest time of any record, in microseconds since the epoch.
        public var ingestTimeRange: ClosedRange<Int64>?
        /// Of `segments` and `segmentBytes`, those `ledger-tool retain` deleted locally: they are only in the
        /// archive, and take no local disk.
        public var evictedSegments = 0
        public var evictedBytes: Int64 = 0
        public var bytesPerRecord: Double { durableLSN == 0 ? 0 : Double(segmentBytes) / Double(durableLSN) }
    }

    public static func stats(directory: String) throws -> Stats {
        let reader = try LedgerReader(directory: directory)
        let segments = try reader.segments()
        let indexBytes = [LedgerIndex.fileName, LedgerIndex.fileName + "-wal"].reduce(Int64(0)) { total, name in
            total
                + ((try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? NSNumber)?
                    .int64Value ?? 0)
        }
        let durable = try reader.durableLSN()
        var stats = Stats(
            ledgerID: reader.ledgerID, durableLSN: durable, firstLSN: durable > 0 ? 1 : nil, segments: segments.count,
            segmentBytes: segments.reduce(0) { $0 + $1.byteLength }, indexBytes: indexBytes,
            counts: try reader.recordCounts(), watermarks: try reader.watermarks(),
            ingestTimeRange: segments.compactMap(\.ingestTimeRange).reduce(nil) { total, range in
                total.map { min($0.lowerBound, range.lowerBound)...max($0.upperBound, range.upperBound) } ?? range
            })
        if let evicted = try EvictedSegments.read(in: directory) {
            stats.evictedSegments = evicted.segments.count
            stats.evictedBytes = evicted.segments.reduce(0) { $0 + $1.bytes }
        }
        return stats
    }
}
