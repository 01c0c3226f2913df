import Foundation
import OperatingErrors

/// Deletes local sealed segments that the archive holds (issue 14), so that a ledger's disk does not grow without
/// bound. A segment goes only when all of these hold, checked in this order, oldest segment first:
///
/// 1. it is sealed, and not one of the newest `keepSealedSegments` sealed ones;
/// 2. every record in it is behind `floorLSN`, the lowest checkpoint of the warehouses that read the ledger
///    (the caller reads them);
/// 3. the archive's manifest names it as the index describes it, its local bytes have the manifest's SHA-256,
///    and the archived object, read back now, has it too.
///
/// The first segment that fails a check ends the run (what is evicted stays a prefix of the ledger), and the
/// report says which check kept it. For each segment the record (`EvictedSegments`) is written durably before the
/// file is removed. Takes no lock: it runs beside ledger-ingest, which never touches a sealed segment again.
public enum LedgerRetention {
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
        let reader = try LedgerReader(directory: directory)
        let identity = try FileIdentity(path: directory)
        var record = try startingRecord(directory, reader.ledgerID, target)
        try removeLeftoverFiles(directory, record, dryRun: dryRun)
        guard let manifest = try LedgerArchive.readManifest(target, reader.ledgerID.text) else {
            throw LedgerError(
                .invalidArgument, "the archive holds nothing of this ledger: archive it first",
                [("archive", target.url), ("ledger_id", reader.ledgerID.text)])
        }
        var report = Report(ledgerID: reader.ledgerID, evictedThroughLSN: record.lastLSN)
        let sealed = try reader.segments().filter(\.sealed)
        for segment in sealed.dropLast(keepSealedSegments) where segment.firstLSN > record.lastLSN {
            if let reason = try reasonToKeep(segment, floorLSN: floorLSN, manifest: manifest, directory, target) {
                report.keptBecause = reason
                return report
            }
            guard let entry = manifest.segments.first(where: { $0.describes(segment) }) else {
                preconditionFailure("reasonToKeep checked the manifest names the segment")
            }
            if !dryRun { try evict(entry, directory, identity, &record) }
            report.evicted.append(entry.file)
            report.bytesFreed += entry.bytes
            report.evictedThroughLSN = entry.lastLsn
        }
        report.keptBecause = "the newest \(keepSealedSegments) sealed segments and the open one stay local"
        return report
    }

    /// The record so far, or a new one for this archive. Every evicted segment of a ledger lives in one archive:
    /// a second one would leave readers two places to look.
    private static func startingRecord(_ directory: String, _ ledgerID: UUID, _ target: any ArchiveTarget) throws
        -> EvictedSegments
    {
        guard let record = try EvictedSegments.read(in: directory) else {
            return EvictedSegments(ledgerId: ledgerID.text, archive: target.url, segments: [])
        }
        guard record.ledgerID == ledgerID else {
            throw LedgerError(
                .mismatch, "the record of evicted segments belongs to another ledger",
                [
                    ("path", directory + "/" + EvictedSegments.fileName), ("expected", ledgerID.text),
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
    private static func removeLeftoverFiles(_ directory: String, _ record: EvictedSegments, dryRun: Bool) throws {
        let fileSystem = PosixFileSystem()
        let leftovers = record.segments.map { directory + "/" + $0.file }.filter { fileSystem.fileExists($0) }
        guard !leftovers.isEmpty, !dryRun else { return }
        for path in leftovers { try fileSystem.remove(path) }
        try fileSystem.syncDirectory(directory)
    }

    /// Nil when the segment may go; otherwise why it stays. A local copy that differs from the archived one, or
    /// an archived object that does not read back as the manifest says, is damage: thrown, never a reason to keep.
    private static func reasonToKeep(
        _ segment: SegmentRow, floorLSN: UInt64, manifest: LedgerArchive.Manifest, _ directory: String,
        _ target: any ArchiveTarget
    ) throws -> String? {
        guard segment.lastLSN <= floorLSN else {
            return "\(segment.fileName) holds LSNs past the lowest warehouse checkpoint (\(floorLSN))"
        }
        guard let entry = manifest.segments.first(where: { $0.describes(segment) }) else {
            return "\(segment.fileName) is not archived yet (or the archive holds another history of it)"
        }
        // The archived copy first, then the local one right before the file goes: the local bytes checked are
        // those deleted.
        _ = try LedgerArchive.verifiedObject(target, manifest.ledgerId, entry)
        let local = try LedgerArchive.segmentBytes(directory, segment)
        let found = LedgerArchive.sha256(local)
        guard found == entry.sha256 else {
            throw LedgerError(
                .corruption, "the local copy of an archived segment differs from the archived one",
                [
                    ("path", directory + "/" + segment.fileName), ("expected_sha256", entry.sha256),
                    ("found_sha256", found),
                ])
        }
        return nil
    }

    /// Records the segment as evicted, then removes its file. A directory put in the ledger's place meanwhile
    /// (a restore renamed into place) stops the run: its segment of that name may hold another history.
    private static func evict(
        _ entry: LedgerArchive.Entry, _ directory: String, _ identity: FileIdentity, _ record: inout EvictedSegments
    ) throws {
        guard try FileIdentity(path: directory) == identity else {
            throw LedgerError(
                .mismatch, "the ledger directory was replaced while retain ran: nothing more is deleted",
                [("path", directory)])
        }
        record.segments.append(entry)
        try record.write(in: directory)
        let fileSystem = PosixFileSystem()
        try fileSystem.remove(directory + "/" + entry.file)
        try fileSystem.syncDirectory(directory)
    }
}
