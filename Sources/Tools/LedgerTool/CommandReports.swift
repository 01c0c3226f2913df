import Foundation
import Ledger
import MessageSchema

// The `-o json` results of the ledger commands, one schema each (docs/CLI.md). Keys go out in snake case and
// sorted; fields are only ever added, never renamed or removed.

/// `ledger-tool import -o json`.
struct ImportReport: Encodable {
    var schema = "pulse-ledger.import.v1"
    var topic: String
    var lines: Int64
    /// Records appended, by kind (`accepted`, `rejected`, `duplicate`, `conflict`).
    var records: [String: Int]
    var rejectedByReason: [String: Int]
    var alreadyRecorded: Int
    var durableLsn: UInt64

    init(_ summary: ImportSummary, topic: String) {
        self.topic = topic
        lines = summary.lines
        records = Dictionary(uniqueKeysWithValues: summary.kinds.map { ($0.key.description, $0.value) })
        rejectedByReason = summary.reasons
        alreadyRecorded = summary.alreadyRecorded
        durableLsn = summary.durableLSN
    }
}

/// `ledger-tool stats -o json`.
struct StatsReport: Encodable {
    struct Count: Encodable {
        var kind: String
        var reason: String?
        var count: Int
    }

    struct Mark: Encodable {
        var topic: String
        var partition: Int32
        var offset: Int64
        var lsn: UInt64
    }

    var schema = "pulse-ledger.stats.v1"
    var ledgerId: String
    var firstLsn: UInt64?
    var durableLsn: UInt64
    var segments: Int
    var segmentBytes: Int64
    /// Of those, the segments `retain` deleted locally (only in the archive); absent when none.
    var evictedSegments: Int?
    var evictedSegmentBytes: Int64?
    var indexBytes: Int64
    var bytesPerRecord: Double
    var firstIngestTime: String?
    var lastIngestTime: String?
    var counts: [Count]
    var watermarks: [Mark]

    init(_ stats: LedgerMaintenance.Stats) {
        ledgerId = stats.ledgerID.text
        firstLsn = stats.firstLSN
        durableLsn = stats.durableLSN
        segments = stats.segments
        segmentBytes = stats.segmentBytes
        evictedSegments = stats.evictedSegments > 0 ? stats.evictedSegments : nil
        evictedSegmentBytes = stats.evictedSegments > 0 ? stats.evictedBytes : nil
        indexBytes = stats.indexBytes
        bytesPerRecord = stats.bytesPerRecord
        firstIngestTime = stats.ingestTimeRange.map { RFC3339.format(microsecondsSinceEpoch: $0.lowerBound) }
        lastIngestTime = stats.ingestTimeRange.map { RFC3339.format(microsecondsSinceEpoch: $0.upperBound) }
        counts = stats.counts.map { Count(kind: $0.kind.description, reason: $0.reason?.code, count: $0.count) }
        watermarks = stats.watermarks.sorted { $0.key < $1.key }.map {
            Mark(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value.offset, lsn: $0.value.lsn)
        }
    }
}

/// `ledger-tool verify -o json`: `ok` false with `damage` when a check failed (exit status 1).
struct VerifyJSONReport: Encodable {
    var schema = "pulse-ledger.verify.v1"
    var ok: Bool
    var segments: Int?
    var records: UInt64?
    var durableLsn: UInt64?
    var unpublishedTailBytes: Int64?
    var undurableAfterLsn: UInt64?
    var indexIdentical: Bool?
    var indexDifferenceCount: Int?
    var indexDifferences: [String]?
    /// The damage found in the segments (code, message and context), when there was some.
    var damage: String?

    init(_ report: LedgerMaintenance.VerifyReport) {
        ok = report.isConsistent
        segments = report.segments
        records = report.records
        durableLsn = report.durableLSN
        unpublishedTailBytes = report.unpublishedTailBytes
        undurableAfterLsn = report.undurableAfterLSN
        indexIdentical = report.isConsistent
        indexDifferenceCount = report.indexDifferenceCount
        indexDifferences = report.indexDifferences
    }

    init(damage: LedgerError) {
        ok = false
        self.damage = damage.description
    }
}

/// `ledger-tool rebuild index -o json`.
struct RebuildIndexReport: Encodable {
    var schema = "pulse-ledger.rebuild-index.v1"
    var durableLsn: UInt64
    var previousDurableLsn: UInt64?
    var truncatedBytes: Int64
    var seconds: Double
}

/// `ledger-tool migrate -o json`.
struct MigrateReport: Encodable {
    var schema = "pulse-ledger.migrate.v1"
    var warehouseSchema: String
    var currentVersion: Int
    var appliedVersions: [Int]
}

/// `ledger-tool rebuild warehouse -o json`.
struct RebuildWarehouseReport: Encodable {
    struct LedgerReached: Encodable {
        var ledgerId: String
        var lastLsn: UInt64
    }

    var schema = "pulse-ledger.rebuild-warehouse.v1"
    var warehouseSchema: String
    var ledgers: [LedgerReached]
    var records: UInt64
    var rows: Int
    var rejections: Int
    var days: Int
    /// Days whose digest matched the ledger's (0 without --verify).
    var verifiedDays: Int
    var seconds: Double
}

/// `ledger-tool dlq replay -o json`.
struct ReplayReport: Encodable {
    var schema = "pulse-ledger.dlq-replay.v1"
    var topic: String
    var chosen: Int
    var nowValid: Int
    var stillInvalid: Int
    var notReplayable: Int
    /// Produced and acknowledged (0 with --dry-run).
    var replayed: Int
    var dryRun: Bool
}

/// `ledger-tool produce -o json`.
struct ProduceReport: Encodable {
    var schema = "pulse-ledger.produce.v1"
    var topic: String
    var produced: Int
    var seconds: Double
}
