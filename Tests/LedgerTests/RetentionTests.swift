import Foundation
import LedgerTesting
import Testing

@testable import Ledger

/// Issue 14, retention: a local sealed segment is deleted only when it is archived, verified in the archive and
/// behind the warehouses' floor; every reader then finds it in the archive, and a damaged archived copy is
/// reported, never read.
@Suite struct RetentionTests {
    /// A ledger of many small sealed segments, archived.
    private func archivedLedger(_ kind: ArchiveKind) throws -> (ledger: ScratchDirectory, archive: TestArchive) {
        let ledger = try ledgerOfSmallSegments(300, segmentBytes: 2048, perCommit: 20)
        let archive = try TestArchive(kind)
        _ = try LedgerArchive.archive(directory: ledger.path, to: archive.target)
        return (ledger, archive)
    }

    private func sealed(_ ledger: ScratchDirectory) throws -> [SegmentRow] {
        try LedgerReader(directory: ledger.path).segments().filter(\.sealed)
    }

    private func localFiles(_ ledger: ScratchDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: ledger.path).filter { $0.hasSuffix(".seg") }.sorted()
    }

    @Test(arguments: ArchiveKind.allCases) func onlyWhatIsArchivedAndBehindTheFloorIsDeleted(_ kind: ArchiveKind) throws
    {
        let ledger = try ledgerOfSmallSegments(400, segmentBytes: 2048, perCommit: 20)
        let archive = try TestArchive(kind)
        let unarchived = try #require(throws: LedgerError.self) {
            try LedgerRetention.evict(
                directory: ledger.path, archive: archive.target, floorLSN: 1, keepSealedSegments: 0)
        }
        #expect(unarchived.code == .invalidArgument && unarchived.message.contains("archive it first"))
        _ = try LedgerArchive.archive(directory: ledger.path, to: archive.target)
        let archived = try sealed(ledger)
        // Segments sealed after the archive run are not archived yet: they stay.
        try LedgerWriter(directory: ledger.path, options: LedgerOptions(segmentBytesTarget: 2048))
            .appendSamples(400..<600, perCommit: 20)
        let segments = try sealed(ledger)
        #expect(archived.count >= 6 && segments.count > archived.count + 2)
        let durable = try LedgerReader(directory: ledger.path).durableLSN()
        // The floor: a segment with one LSN past it stays, and so does everything after it.
        let floor = segments[2].lastLSN
        let dry = try LedgerRetention.evict(
            directory: ledger.path, archive: archive.target, floorLSN: floor, keepSealedSegments: 0, dryRun: true)
        #expect(dry.evicted == segments[0...2].map(\.fileName))
        #expect(try localFiles(ledger).count == segments.count + 1)
        let partial = try LedgerRetention.evict(
            directory: ledger.path, archive: archive.target, floorLSN: segments[3].lastLSN - 1, keepSealedSegments: 0)
        #expect(partial.evicted == segments[0...2].map(\.fileName) && partial.evictedThroughLSN == floor)
        #expect(partial.keptBecause.contains("checkpoint"))
        #expect(try localFiles(ledger).first == segments[3].fileName)
        let rest = try LedgerRetention.evict(
            directory: ledger.path, archive: archive.target, floorLSN: durable, keepSealedSegments: 0)
        #expect(rest.evicted == archived[3...].map(\.fileName) && rest.keptBecause.contains("not archived"))
        // Archived now; the newest sealed segments asked to stay, stay, and so does the open one.
        _ = try LedgerArchive.archive(directory: ledger.path, to: archive.target)
        let last = try LedgerRetention.evict(
            directory: ledger.path, archive: archive.target, floorLSN: durable, keepSealedSegments: 2)
        #expect(last.evicted == segments[archived.count..<(segments.count - 2)].map(\.fileName))
        #expect(try localFiles(ledger).count == 3)
        let record = try #require(try EvictedSegments.read(in: ledger.path))
        #expect(
            record.segments.map(\.file) == segments.dropLast(2).map(\.fileName) && record.archive == archive.target.url)
    }

    /// Every reader, and verify and rebuild index, read the evicted segments from the archive: the records are
    /// the same as before, and the ledger takes new records after it.
    @Test(arguments: ArchiveKind.allCases) func readersFetchEvictedSegmentsFromTheArchive(_ kind: ArchiveKind) throws {
        let (ledger, archive) = try archivedLedger(kind)
        let before = try ledgerEntries(ledger.path)
        let durable = try LedgerReader(directory: ledger.path).durableLSN()
        let report = try LedgerRetention.evict(
            directory: ledger.path, archive: archive.target, floorLSN: durable, keepSealedSegments: 0)
        #expect(try report.evicted.count == sealed(ledger).count)
        #expect(try localFiles(ledger).count == 1)
        let environment = try archive.environment() ?? ProcessInfo.processInfo.environment
        #expect(try ledgerEntries(ledger.path, environment: environment) == before)
        let reader = try LedgerReader(directory: ledger.path, environment: environment)
        #expect(try reader.record(at: 7) == before[6].record)
        let verified = try ProductRun("ledger-tool", ["verify", "--wal", ledger.path], environment: environment)
        #expect(verified.status == 0, "\(verified.errors)")
        let firstOrder = try #require(before.first { $0.record.kind == .accepted }?.record.transaction?.orderID)
        let traced = try ProductRun(
            "ledger-tool", ["trace", firstOrder.uuidString, "--wal", ledger.path, "--all", "-o", "json"],
            environment: environment)
        #expect(traced.status == 0 && traced.output.contains(firstOrder.uuidString.lowercased()), "\(traced.errors)")
        let stats = try ProductRun("ledger-tool", ["stats", "--wal", ledger.path, "-o", "json"])
        #expect(stats.output.contains("\"evicted_segments\":\(report.evicted.count),"), "\(stats.output)")
        let inspected = try ProductRun(
            "ledger-tool", ["inspect", "segment", ledger.file(report.evicted[1]), "--records", "-o", "json"],
            environment: environment)
        #expect(inspected.status == 0 && inspected.output.contains("\"path\":\"\(ledger.file(report.evicted[1]))"))
        let secondFirstLSN = try sealed(ledger)[1].firstLSN
        #expect(inspected.output.contains("\"lsn\":\(secondFirstLSN),"), "the evicted segment's first record")
        let rebuilt = try ProductRun(
            "ledger-tool", ["rebuild", "index", "--wal", ledger.path], environment: environment)
        #expect(rebuilt.status == 0, "\(rebuilt.errors)")
        #expect(try ledgerEntries(ledger.path, environment: environment) == before)
        // A writer opens it without the archive (the index holds the evicted segments), and appends after it:
        // the archive is moved away (file://), or out of reach (s3://: this process has no credentials).
        let archiveRoot = archive.url.hasPrefix("file://") ? String(archive.url.dropFirst("file://".count)) : nil
        if let archiveRoot { try FileManager.default.moveItem(atPath: archiveRoot, toPath: archiveRoot + ".away") }
        try LedgerWriter(directory: ledger.path, options: LedgerOptions(segmentBytesTarget: 2048))
            .appendSamples(300..<320, perCommit: 20)
        if let archiveRoot { try FileManager.default.moveItem(atPath: archiveRoot + ".away", toPath: archiveRoot) }
        #expect(try LedgerReader(directory: ledger.path).durableLSN() == durable + 20)
    }

    /// A damaged archived copy of an evicted segment is the only copy: reading it fails naming the object, and
    /// the archive run reports it instead of trying to upload a local copy that is gone.
    @Test(arguments: ArchiveKind.allCases) func aDamagedArchivedCopyOfAnEvictedSegmentIsReported(_ kind: ArchiveKind)
        throws
    {
        let (ledger, archive) = try archivedLedger(kind)
        let durable = try LedgerReader(directory: ledger.path).durableLSN()
        let report = try LedgerRetention.evict(
            directory: ledger.path, archive: archive.target, floorLSN: durable, keepSealedSegments: 1)
        let id = try LedgerReader(directory: ledger.path).ledgerID
        try archive.flipBit(id, report.evicted[0], at: 100)
        let environment = try archive.environment() ?? ProcessInfo.processInfo.environment
        let read = try #require(throws: LedgerError.self) { try ledgerEntries(ledger.path, environment: environment) }
        #expect(read.code == .corruption && read.context("object")?.hasSuffix(report.evicted[0]) == true)
        // The archive run reports it, and still archives what sealed since.
        try LedgerWriter(directory: ledger.path, options: LedgerOptions(segmentBytesTarget: 2048))
            .appendSamples(300..<400, perCommit: 20)
        let shipped = try LedgerArchive.archive(directory: ledger.path, to: archive.target)
        #expect(shipped.evictedObjectsLost.count == 1 && !shipped.uploaded.isEmpty)
        let lost = try #require(shipped.evictedObjectsLost.first)
        #expect(lost.code == .corruption && lost.message.contains("no local copy"))
        let command = try ProductRun(
            "ledger-tool", ["archive", "--wal", ledger.path, "--to", archive.url], environment: environment)
        #expect(command.status == 1 && command.errors.contains(report.evicted[0]), "\(command.errors)")
        // ledger-ingest's periodic read-back checks evicted objects by size only (their contents were read back
        // when they were evicted): it does not download the history, so it cannot see the flipped byte, but it
        // sees an object that is gone.
        let sized = try LedgerArchive.archive(
            directory: ledger.path, to: archive.target, check: .contents, readBackEvicted: false)
        #expect(sized.evictedObjectsLost.isEmpty)
        try archive.remove(id, report.evicted[1])
        let missing = try LedgerArchive.archive(
            directory: ledger.path, to: archive.target, check: .contents, readBackEvicted: false)
        #expect(missing.evictedObjectsLost.map { $0.context("object") } == ["\(id.text)/segments/\(report.evicted[1])"])
        let verified = try ProductRun("ledger-tool", ["verify", "--wal", ledger.path], environment: environment)
        #expect(verified.status != 0 && verified.errors.contains(report.evicted[0]), "\(verified.errors)")
    }

    /// A local copy that differs from the archived one is damage: retention stops with it and deletes nothing.
    @Test func aLocalCopyThatDiffersFromTheArchiveStopsRetention() throws {
        let (ledger, archive) = try archivedLedger(.file)
        let first = try #require(try sealed(ledger).first)
        try flipBit(ledger.file(first.fileName), at: 200)
        let error = try #require(throws: LedgerError.self) {
            try LedgerRetention.evict(
                directory: ledger.path, archive: archive.target, floorLSN: .max, keepSealedSegments: 0)
        }
        #expect(error.code == .corruption && error.context("path")?.hasSuffix(first.fileName) == true)
        #expect(try EvictedSegments.read(in: ledger.path) == nil)
        #expect(try localFiles(ledger).contains(first.fileName))
    }

    /// All evicted segments live in one archive, and a record edited into a gap is refused.
    @Test func oneArchivePerLedgerAndNoGapsInTheRecord() throws {
        let (ledger, archive) = try archivedLedger(.file)
        let other = try TestArchive(.file)
        _ = try LedgerArchive.archive(directory: ledger.path, to: other.target)
        _ = try LedgerRetention.evict(
            directory: ledger.path, archive: archive.target, floorLSN: .max, keepSealedSegments: 1)
        let elsewhere = try #require(throws: LedgerError.self) {
            try LedgerRetention.evict(
                directory: ledger.path, archive: other.target, floorLSN: .max, keepSealedSegments: 0)
        }
        #expect(elsewhere.code == .invalidArgument && elsewhere.context("evicted_to") == archive.url)
        var record = try #require(try EvictedSegments.read(in: ledger.path))
        record.segments.remove(at: 1)
        try LedgerArchive.encoder().encode(record).write(
            to: URL(fileURLWithPath: ledger.file(EvictedSegments.fileName)))
        let gap = try #require(throws: LedgerError.self) { try ledgerEntries(ledger.path) }
        #expect(gap.code == .corruption && gap.message.contains("gap"), "\(gap)")
    }

    /// One run at a time: a second `retain` while one holds the lock is refused and deletes nothing.
    @Test func aSecondRunAtTheSameTimeIsRefused() throws {
        let (ledger, archive) = try archivedLedger(.file)
        let held = try PinnedDirectory(ledger.path).lock(LedgerRetention.lockFileName, holder: "the test")
        let refused = try #require(throws: LedgerError.self) {
            try LedgerRetention.evict(
                directory: ledger.path, archive: archive.target, floorLSN: .max, keepSealedSegments: 0)
        }
        #expect(refused.code == .locked && refused.message.contains("another ledger-tool retain"))
        #expect(try EvictedSegments.read(in: ledger.path) == nil)
        withExtendedLifetime(held) {}
    }

    /// A crash after the record was written and before the file was removed leaves a segment both local and
    /// listed: readers, verify and a writer's open are right with it, and the next run removes the file.
    @Test func aCrashBetweenTheRecordAndTheUnlinkIsFinishedByTheNextRun() throws {
        let (ledger, archive) = try archivedLedger(.file)
        let before = try ledgerEntries(ledger.path)
        let report = try LedgerRetention.evict(
            directory: ledger.path, archive: archive.target, floorLSN: .max, keepSealedSegments: 2)
        let last = try #require(report.evicted.last)
        let id = try LedgerReader(directory: ledger.path).ledgerID
        let archivedCopy = String(archive.url.dropFirst("file://".count)) + "/\(id.text)/segments/\(last)"
        try FileManager.default.copyItem(atPath: archivedCopy, toPath: ledger.file(last))
        #expect(try ledgerEntries(ledger.path) == before)
        #expect(try LedgerMaintenance.verify(directory: ledger.path).isConsistent)
        try LedgerWriter(directory: ledger.path, options: LedgerOptions(segmentBytesTarget: 2048)).close()
        _ = try LedgerRetention.evict(
            directory: ledger.path, archive: archive.target, floorLSN: .max, keepSealedSegments: 2)
        #expect(!FileManager.default.fileExists(atPath: ledger.file(last)))
        #expect(try ledgerEntries(ledger.path) == before)
    }

    /// The command: a floor must be named (a warehouse, or --no-warehouse), and the result speaks JSON.
    @Test func theRetainCommand() throws {
        let (ledger, archive) = try archivedLedger(.file)
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = nil
        let unnamed = try ProductRun(
            "ledger-tool", ["retain", "--wal", ledger.path, "--archive", archive.url], environment: environment)
        #expect(unnamed.status == 2 && unnamed.errors.contains("--no-warehouse"), "\(unnamed.errors)")
        let run = try ProductRun(
            "ledger-tool",
            ["retain", "--wal", ledger.path, "--archive", archive.url, "--no-warehouse", "-o", "json"],
            environment: environment)
        #expect(run.status == 0 && run.output.contains("\"schema\":\"pulse-ledger.retain.v1\""), "\(run.errors)")
        #expect(try localFiles(ledger).count == 3)
    }
}
