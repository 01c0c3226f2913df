import Foundation
import Logging

/// Operator actions on a whole ledger directory: verify, rebuild the index, statistics.
public enum LedgerMaintenance {
    /// What `verify` found.
    public struct VerifyReport: Sendable {
        public var segments: Int
        public var records: UInt64
        public var durableLSN: UInt64
        /// Index rows that differ from an index rebuilt from the segments ("-" only in the live index,
        /// "+" only in the rebuilt one). Empty when the index is exactly what the segments say.
        public var indexDifferences: [String]
        public var isConsistent: Bool { indexDifferences.isEmpty }
    }

    /// Checks every frame of every segment (checksums, chain, decoding, footers) and compares the index with
    /// one rebuilt from the segments alone. Takes the writer lock, so it refuses to run beside ledger-ingest,
    /// and never modifies the ledger: a torn tail is reported, not repaired. Throws on the first corruption.
    public static func verify(directory: String, fileSystem: any FileSystem = PosixFileSystem(), logger: Logger = quietLogger) throws -> VerifyReport {
        let lock = try takeLock(directory, fileSystem: fileSystem)
        defer { withExtendedLifetime(lock) {} }
        let livePath = directory + "/" + LedgerIndex.fileName
        guard fileSystem.fileExists(livePath) else {
            throw LedgerError(.index, "no index in the ledger directory", [("path", livePath)])
        }
        let live = try LedgerIndex(path: livePath)
        let scratch = NSTemporaryDirectory() + "pulse-ledger-verify-\(UUID().uuidString)"
        try fileSystem.makeDirectory(scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let rebuilt = try LedgerIndex(path: scratch + "/" + LedgerIndex.fileName)
        try rebuilt.setMeta("schema_version", String(LedgerIndex.schemaVersion))
        let recovery = Recovery(directory: directory, fileSystem: fileSystem, index: rebuilt, logger: logger, readOnly: true)
        let outcome = try recovery.run()
        // Orders past the live index's orders_lsn are legitimately missing after a crash (the next open inserts
        // them), so both sides are compared through that LSN.
        let ordersThrough = try live.ordersLSN()
        let liveRows = try live.dump(ordersThrough: ordersThrough)
        let rebuiltRows = try rebuilt.dump(ordersThrough: ordersThrough)
        let differences = Set(liveRows).symmetricDifference(rebuiltRows).sorted().map { (liveRows.contains($0) ? "- " : "+ ") + $0 }
        return VerifyReport(segments: try SegmentFiles.list(directory, fileSystem: fileSystem).count,
                            records: outcome?.lastSegment.lastLSN ?? 0, durableLSN: try live.durableLSN(), indexDifferences: differences)
    }

    /// Discards the index and rebuilds it from the segments (recovery runs as on any open). Takes the writer
    /// lock. Returns the durable LSN.
    public static func rebuildIndex(directory: String, options: LedgerOptions = LedgerOptions()) throws -> UInt64 {
        var rebuilding = options
        rebuilding.discardIndex = true
        return try LedgerWriter(directory: directory, options: rebuilding).durableLSN
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
        public var bytesPerRecord: Double { durableLSN == 0 ? 0 : Double(segmentBytes) / Double(durableLSN) }
    }

    public static func stats(directory: String) throws -> Stats {
        let reader = try LedgerReader(directory: directory)
        let segments = try reader.segments()
        let indexBytes = [LedgerIndex.fileName, LedgerIndex.fileName + "-wal"].reduce(Int64(0)) { total, name in
            total + ((try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? NSNumber)?.int64Value ?? 0)
        }
        let durable = try reader.durableLSN()
        return Stats(ledgerID: reader.ledgerID, durableLSN: durable, firstLSN: durable > 0 ? 1 : nil, segments: segments.count,
                     segmentBytes: segments.reduce(0) { $0 + $1.byteLength }, indexBytes: indexBytes,
                     counts: try reader.recordCounts(), watermarks: try reader.watermarks(),
                     ingestTimeRange: segments.compactMap(\.ingestTimeRange).reduce(nil) { total, range in
                         total.map { min($0.lowerBound, range.lowerBound)...max($0.upperBound, range.upperBound) } ?? range
                     })
    }

    public static let quietLogger = Logger(label: "pulse.ledger", factory: { _ in SwiftLogNoOpLogHandler() })

    static func takeLock(_ directory: String, fileSystem: any FileSystem) throws -> any LedgerFile {
        let lockPath = directory + "/" + SegmentFiles.lockFileName
        guard fileSystem.fileExists(directory) else {
            throw LedgerError(.invalidArgument, "no such ledger directory", [("path", directory)])
        }
        let lock = try fileSystem.open(lockPath, create: !fileSystem.fileExists(lockPath))
        try lock.lockExclusively()
        return lock
    }
}
