import Foundation
import OperatingErrors

/// Deletes local sealed segments that the archive holds (issue 14), so that a ledger's disk does not grow without
/// bound. A segment goes only when all of these hold, checked in this order, oldest segment first:
///
/// 1. it is sealed, it is not the ledger's last segment (the writer appends to it, or creates the next one from
///    it), and it is not one of the newest `keepSealedSegments` sealed ones;
/// 2. every record in it is behind `floorLSN`, the lowest checkpoint of the warehouses that read the ledger
///    (the caller reads them);
/// 3. the archive's manifest names it as the index describes it, the archived object, read back now, has the
///    manifest's SHA-256, and so do the local bytes, read right before they are deleted.
///
/// The first segment that fails a check ends the run (what is evicted stays a prefix of the ledger), and the
/// report says which check kept it. For each segment the record (`EvictedSegments`) is written durably before the
/// file is removed. Every change goes through the directory as it was opened (`PinnedDirectory`), under the lock
/// file `retain.lock`: one run at a time. It takes no writer lock: it runs beside ledger-ingest, which never
/// touches a sealed segment again.
public enum LedgerRetention {
    static let lockFileName = "retain.lock"

    public struct Report: Sendable {
        public var ledgerID: UUID
        /// Segments evicted by this run (with `dryRun`, those that would be).
        public var evicted: [String] = []
        public var bytesFreed: Int64 = 0
        /// The last LSN held only in the archive after this run.
        public var evictedThroughLSN: UInt64 = 0
        /// Why the next segment stays local.
        public var keptBecause = ""
    }

    public static func evict(
        directory: String, archive target: any ArchiveTarget, floorLSN: UInt64, keepSealedSegments: Int,
        dryRun: Bool = false
    ) throws -> Report {
        precondition(keepSealedSegments >= 0, "a count of segments")
        let pinned = try PinnedDirectory(directory)
        let lock = try pinned.lock(lockFileName, holder: "another ledger-tool retain")
        defer { withExtendedLifetime(lock) {} }
        let reader = try LedgerReader(directory: directory)
        var record = try startingRecord(pinned, reader.ledgerID, target)
        try removeLeftoverFiles(pinned, record, dryRun: dryRun)
        guard let manifest = try LedgerArchive.readManifest(target, reader.ledgerID.text) else {
            throw LedgerError(
                .invalidArgument, "the archive holds nothing of this ledger: archive it first",
                [("archive", target.url), ("ledger_id", reader.ledgerID.text)])
        }
        var report = Report(ledgerID: reader.ledgerID, evictedThroughLSN: record.lastLSN)
        let candidates = try reader.segments().dropLast().filter(\.sealed).dropLast(keepSealedSegments)
        for segment in candidates where segment.firstLSN > record.lastLSN {
            let checked = try check(segment, floorLSN: floorLSN, manifest: manifest, pinned, target)
            guard case .evictable(let entry) = checked else {
                if case .kept(let reason) = checked { report.keptBecause = reason }
                return report
            }
            if !dryRun { try evict(entry, pinned, &record) }
            report.evicted.append(entry.file)
            report.bytesFreed += entry.bytes
            report.evictedThroughLSN = entry.lastLsn
        }
        report.keptBecause =
            "the last segment and the newest \(keepSealedSegments) sealed ones stay local"
        return report
    }

    /// The record so far, or a new one for this archive. Every evicted segment of a ledger lives in one archive:
    /// a second one would leave readers two places to look.
    private static func startingRecord(_ pinned: PinnedDirectory, _ ledgerID: UUID, _ target: any ArchiveTarget)
        throws -> EvictedSegments
    {
        guard let record = try EvictedSegments.read(pinned) else {
            return EvictedSegments(ledgerId: ledgerID.text, archive: target.url, segments: [])
        }
        guard record.ledgerID == ledgerID else {
            throw LedgerError(
                .mismatch, "the record of evicted segments belongs to another ledger",
                [
                    ("path", pinned.path + "/" + EvictedSegments.fileName), ("expected", ledgerID.text),
                    ("found", record.ledgerId),
                ])
        }
        guard record.archive == target.url else {
            throw LedgerError(
                .invalidArgument, "this ledger's segments were evicted to another archive: retain into that one",
                [("archive", target.url), ("evicted_to", record.archive)])
        }
        return record
    }

    /// A crash between writing the record and removing the file leaves the file: it is listed, so it can go.
    private static func removeLeftoverFiles(_ pinned: PinnedDirectory, _ record: EvictedSegments, dryRun: Bool) throws {
        guard !dryRun else { return }
        for name in record.segments.map(\.file) where pinned.exists(name) { try pinned.remove(name) }
    }

    private enum Verdict {
        case evictable(LedgerArchive.Entry)
        case kept(String)
    }

    /// Whether the segment may go, or why it stays. A local copy that differs from the archived one, or an
    /// archived object that does not read back as the manifest says, is damage: thrown, never a reason to keep.
    private static func check(
        _ segment: SegmentRow, floorLSN: UInt64, manifest: LedgerArchive.Manifest, _ pinned: PinnedDirectory,
        _ target: any ArchiveTarget
    ) throws -> Verdict {
        guard segment.lastLSN <= floorLSN else {
            return .kept("\(segment.fileName) holds LSNs past the lowest warehouse checkpoint (\(floorLSN))")
        }
        guard let entry = manifest.segments.first(where: { $0.describes(segment) }) else {
            return .kept("\(segment.fileName) is not archived yet (or the archive holds another history of it)")
        }
        // The archived copy first, then the local one right before the file goes: the bytes checked are those
        // deleted.
        _ = try LedgerArchive.verifiedObject(target, manifest.ledgerId, entry)
        let found = LedgerArchive.sha256(Data(try pinned.contents(of: segment.fileName)))
        guard found == entry.sha256 else {
            throw LedgerError(
                .corruption, "the local copy of an archived segment differs from the archived one",
                [
                    ("path", pinned.path + "/" + segment.fileName), ("expected_sha256", entry.sha256),
                    ("found_sha256", found),
                ])
        }
        return .evictable(entry)
    }

    /// Records the segment as evicted, then removes its file, both through the directory opened at the start.
    /// The record on disk must still be the one this run wrote last (the lock makes it so; a record changed by
    /// hand meanwhile stops the run rather than being overwritten).
    private static func evict(_ entry: LedgerArchive.Entry, _ pinned: PinnedDirectory, _ record: inout EvictedSegments)
        throws
    {
        let onDisk = try EvictedSegments.read(pinned)
        guard onDisk?.segments ?? [] == record.segments else {
            throw LedgerError(
                .mismatch, "the record of evicted segments changed while retain ran: nothing more is deleted",
                [
                    ("path", pinned.path + "/" + EvictedSegments.fileName),
                    ("expected_last_lsn", "\(record.lastLSN)"), ("found_last_lsn", "\(onDisk?.lastLSN ?? 0)"),
                ])
        }
        record.segments.append(entry)
        try record.write(pinned)
        try pinned.remove(entry.file)
    }
}
