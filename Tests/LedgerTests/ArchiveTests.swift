import Foundation
import LedgerTesting
import Testing

@testable import Ledger

/// Issue 14: sealed segments go to a `file://` or `s3://` archive, verified after upload, idempotently; a ledger
/// restored from it verifies and holds the same records; a damaged or missing object is reported, never skipped,
/// and a restore from it is refused naming the object.
@Suite struct ArchiveTests {
    private func archiveAndRestore(_ kind: ArchiveKind) throws -> (
        ledger: ScratchDirectory, archive: TestArchive, id: UUID
    ) {
        let ledger = try ledgerOfSmallSegments(300, segmentBytes: 2048, perCommit: 20)
        let archive = try TestArchive(kind)
        let first = try LedgerArchive.archive(directory: ledger.path, to: archive.target)
        #expect(first.uploaded.count >= 3 && first.alreadyArchived == 0 && first.repaired.isEmpty)
        let again = try LedgerArchive.archive(directory: ledger.path, to: archive.target)
        #expect(again.uploaded.isEmpty && again.alreadyArchived == first.uploaded.count, "idempotent")
        #expect(try LedgerArchive.ledgers(in: archive.target) == [first.ledgerID])
        return (ledger, archive, first.ledgerID)
    }

    @Test(arguments: ArchiveKind.allCases) func aRestoredLedgerVerifiesAndHoldsTheArchivedRecords(
        _ kind: ArchiveKind
    ) throws {
        let (ledger, archive, id) = try archiveAndRestore(kind)
        let restored = ScratchDirectory()
        let report = try LedgerArchive.restore(from: archive.target, ledgerID: id, to: restored.path)
        let sealed = try LedgerReader(directory: ledger.path).segments().filter(\.sealed)
        #expect(report.durableLSN == sealed.last!.lastLSN && report.segments == sealed.count)
        #expect(try LedgerMaintenance.verify(directory: restored.path).isConsistent)
        let original = try ledgerEntries(ledger.path).prefix(Int(report.durableLSN))
        #expect(try ledgerEntries(restored.path) == Array(original))
        #expect(try LedgerReader(directory: restored.path).ledgerID == id)
        // The manifest's watermarks: per partition, the highest offset the archive holds is the restored ledger's.
        let manifest = try #require(try LedgerArchive.readManifest(archive.target, id.text))
        var held: [String: Int64] = [:]
        for entry in manifest.segments {
            let marks = try #require(entry.watermarks)
            held.merge(marks) { max($0, $1) }
        }
        let restoredMarks = try LedgerReader(directory: restored.path).watermarks()
        #expect(
            !held.isEmpty
                && held == Dictionary(uniqueKeysWithValues: restoredMarks.map { ($0.key.description, $0.value.offset) })
        )
    }

    @Test(arguments: ArchiveKind.allCases) func aDamagedOrMissingObjectIsReportedRepairedAndNeverRestored(
        _ kind: ArchiveKind
    ) throws {
        let (ledger, archive, id) = try archiveAndRestore(kind)
        let names = try archive.segmentObjects(id)
        try archive.flipBit(id, names[1], at: 100)
        // A restore from the damaged archive is refused, naming the object, and writes no ledger.
        let refused = ScratchDirectory()
        let error = try #require(throws: LedgerError.self) {
            try LedgerArchive.restore(from: archive.target, ledgerID: id, to: refused.path)
        }
        #expect(error.code == .corruption && error.context("object")?.hasSuffix(names[1]) == true)
        #expect(throws: LedgerError.self) { try LedgerReader(directory: refused.path) }
        // A run that checks sizes finds the missing object, not the changed byte; one that reads back finds it.
        try archive.remove(id, names[2])
        let sizes = try LedgerArchive.archive(directory: ledger.path, to: archive.target, check: .sizes)
        #expect(sizes.repaired == [names[2]] && sizes.uploaded.isEmpty)
        let repair = try LedgerArchive.archive(directory: ledger.path, to: archive.target, check: .contents)
        #expect(repair.repaired == [names[1]] && repair.uploaded.isEmpty)
        let restored = ScratchDirectory()
        _ = try LedgerArchive.restore(from: archive.target, ledgerID: id, to: restored.path)
        #expect(try LedgerMaintenance.verify(directory: restored.path).isConsistent)
    }

    /// A sealed segment never changes: when its archived object is gone and the local copy no longer hashes to
    /// what the manifest verified, the run stops with the damage instead of archiving the damaged copy.
    @Test(arguments: ArchiveKind.allCases) func aDamagedLocalCopyNeverReplacesTheArchivedOne(_ kind: ArchiveKind) throws
    {
        let (ledger, archive, id) = try archiveAndRestore(kind)
        let name = try #require(try LedgerReader(directory: ledger.path).segments().first(where: \.sealed)?.fileName)
        try archive.remove(id, name)
        try flipBit(ledger.file(name), at: 200)
        let error = try #require(throws: LedgerError.self) {
            try LedgerArchive.archive(directory: ledger.path, to: archive.target)
        }
        #expect(error.code == .corruption && error.context("path")?.hasSuffix(name) == true)
        #expect(try !archive.exists(id, name))
    }

    @Test(arguments: ArchiveKind.allCases) func theCommandsSpeakJSON(_ kind: ArchiveKind) throws {
        let ledger = try ledgerOfSmallSegments(100, segmentBytes: 2048, perCommit: 20)
        let archive = try TestArchive(kind)
        let environment = try archive.environment()
        let archived = try ProductRun(
            "ledger-tool", ["archive", "--wal", ledger.path, "--to", archive.url, "-o", "json"],
            environment: environment)
        #expect(archived.status == 0 && archived.output.contains("\"schema\":\"pulse-ledger.archive.v1\""))
        let target = ledger.file("restored")
        let restored = try ProductRun(
            "ledger-tool", ["restore", "--from", archive.url, "--wal", target, "-o", "json"], environment: environment)
        #expect(restored.status == 0 && restored.output.contains("\"durable_lsn\""), "\(restored.errors)")
        let again = try ProductRun(
            "ledger-tool", ["restore", "--from", archive.url, "--wal", target], environment: environment)
        #expect(again.status == 2 && again.errors.contains("empty or new directory"))
    }

    /// A URL or setting that cannot work, or a store that cannot be reached (after the retries), stops the command
    /// (status 2) with what is wrong.
    @Test func theCommandsRefuseWhatCannotWork() throws {
        let ledger = try ledgerOfSmallSegments(100, segmentBytes: 2048, perCommit: 20)
        var bare = ProcessInfo.processInfo.environment
        for name in [
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID_FILE", "AWS_SECRET_ACCESS_KEY_FILE",
        ] {
            bare[name] = nil
        }
        let archive = { (url: String, environment: [String: String]) in
            try ProductRun("ledger-tool", ["archive", "--wal", ledger.path, "--to", url], environment: environment)
        }
        let scheme = try archive("https://example.com/bucket", bare)
        #expect(scheme.status == 2 && scheme.errors.contains("file:///path or s3://bucket/prefix"))
        let noCredentials = try archive("s3://bucket/prefix", bare)
        #expect(
            noCredentials.status == 2 && noCredentials.errors.contains("AWS_ACCESS_KEY_ID"), "\(noCredentials.errors)")
        let badBucket = try archive("s3://Not_A_Bucket/prefix", try S3TestStore.environment())
        #expect(badBucket.status == 2 && badBucket.errors.contains("bucket name"))
        var forged = try S3TestStore.environment()
        forged["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
        let unsigned = try archive(try TestArchive(.s3).url, forged)
        #expect(unsigned.status == 2 && unsigned.errors.contains("SignatureDoesNotMatch"), "\(unsigned.errors)")
        var unreachable = try S3TestStore.environment()
        unreachable["AWS_ENDPOINT_URL"] = "http://127.0.0.1:\(try freePort())"
        let down = try archive("s3://bucket/prefix", unreachable)
        #expect(down.status == 2 && down.errors.contains("could not be reached"), "\(down.errors)")
    }

    // MARK: Point in time

    @Test func aRestoreUntilAnLSNEndsExactlyThere() throws {
        let (ledger, archive, id) = try archiveAndRestore(.file)
        let sealed = try LedgerReader(directory: ledger.path).segments().filter(\.sealed)
        let original = try ledgerEntries(ledger.path)
        // The first record; one inside a frame (frames hold 20 records); a segment's last; the archive's last.
        for lsn in [1, 137, sealed[1].lastLSN, sealed.last!.lastLSN] {
            let restored = ScratchDirectory()
            let report = try LedgerArchive.restore(
                from: archive.target, ledgerID: id, to: restored.path, until: .lsn(lsn))
            #expect(report.durableLSN == lsn)
            #expect(try LedgerMaintenance.verify(directory: restored.path).isConsistent)
            #expect(try ledgerEntries(restored.path) == Array(original.prefix(Int(lsn))))
        }
    }

    @Test func aRestoreUntilATimeEndsAtTheLastRecordIngestedByThen() throws {
        let ledger = ScratchDirectory()
        let start: Int64 = 1_765_000_000_000_000
        let writer = try LedgerWriter(directory: ledger.path, options: LedgerOptions(segmentBytesTarget: 2048))
        for number in 0..<300 {
            var record = Sample.record(number)
            record.ingestTimeMicroseconds = start + Int64(number) * 1_000_000  // one a second
            try writer.append(record)
            if number % 20 == 19 { try writer.commit() }
        }
        try writer.close()
        let archive = try TestArchive(.file)
        let id = try LedgerArchive.archive(directory: ledger.path, to: archive.target).ledgerID
        let restored = ScratchDirectory()
        let until = try #require(
            RestorePoint(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: 1_765_000_100.5))))
        // Records 0...100 were ingested at or before start + 100.5 s: LSNs 1...101.
        let report = try LedgerArchive.restore(from: archive.target, ledgerID: id, to: restored.path, until: until)
        #expect(report.durableLSN == 101)
        #expect(try ledgerEntries(restored.path) == Array(try ledgerEntries(ledger.path).prefix(101)))
    }

    @Test func aPointPastTheArchiveIsRefusedAndLeavesNothing() throws {
        let (ledger, archive, id) = try archiveAndRestore(.file)
        let head = try #require(try LedgerReader(directory: ledger.path).segments().filter(\.sealed).last?.lastLSN)
        let target = ScratchDirectory()
        for point in [
            RestorePoint.lsn(head + 1),
            .ingestedBy(microsecondsSinceEpoch: Int64(Date().timeIntervalSince1970 + 3600) * 1_000_000),
        ] {
            let error = try #require(throws: LedgerError.self) {
                try LedgerArchive.restore(from: archive.target, ledgerID: id, to: target.file("restored"), until: point)
            }
            #expect(error.code == .invalidArgument && error.context("archive_last_lsn") == "\(head)")
            #expect(!FileManager.default.fileExists(atPath: target.file("restored")))
        }
        #expect(
            RestorePoint("0") == nil && RestorePoint("yesterday") == nil && RestorePoint("2026-12-06T21:00:00") == nil)
    }

    /// A ledger restored to a point in time and written on has another history than the archive's after that
    /// point: archiving it into the same archive is refused, naming the fork; a new archive takes it.
    @Test func aForkedLedgerIsRefusedByTheArchiveItForkedFrom() throws {
        let (_, archive, id) = try archiveAndRestore(.file)
        let restored = ScratchDirectory()
        _ = try LedgerArchive.restore(from: archive.target, ledgerID: id, to: restored.path, until: .lsn(137))
        try LedgerWriter(directory: restored.path, options: LedgerOptions(segmentBytesTarget: 2048))
            .appendSamples(1_000..<1_200, perCommit: 20)
        let error = try #require(throws: LedgerError.self) {
            try LedgerArchive.archive(directory: restored.path, to: archive.target)
        }
        #expect(error.code == .mismatch && error.message.contains("fork"))
        let fresh = try TestArchive(.file)
        #expect(try LedgerArchive.archive(directory: restored.path, to: fresh.target).uploaded.count >= 3)
    }

    // MARK: The open segment's tail

    /// The open segment's durable bytes go to the archive as deltas; a restore holds every durable record, a
    /// point inside the tail cuts there, and once the segment is sealed and archived whole its deltas are deleted.
    @Test(arguments: ArchiveKind.allCases) func theOpenSegmentsTailIsShippedInDeltas(_ kind: ArchiveKind) throws {
        let ledger = try ledgerOfSmallSegments(300, segmentBytes: 2048, perCommit: 20)
        let archive = try TestArchive(kind)
        let id = try LedgerArchive.archive(directory: ledger.path, to: archive.target).ledgerID
        let durable = UInt64(try ledgerEntries(ledger.path).count)
        #expect(try LedgerArchive.shipTail(directory: ledger.path, to: archive.target) == durable)
        // More records in the same open segment: a second delta.
        var writer: LedgerWriter? = try LedgerWriter(
            directory: ledger.path, options: LedgerOptions(segmentBytesTarget: 1 << 20))
        try writer?.appendSamples(300..<340, perCommit: 20, close: false)
        #expect(try LedgerArchive.shipTail(directory: ledger.path, to: archive.target) == durable + 40)
        let all = try ledgerEntries(ledger.path)
        let restored = ScratchDirectory()
        #expect(
            try LedgerArchive.restore(from: archive.target, ledgerID: id, to: restored.path).durableLSN == durable + 40)
        #expect(try ledgerEntries(restored.path) == all)
        #expect(try LedgerMaintenance.verify(directory: restored.path).isConsistent)
        let atPoint = ScratchDirectory()
        let point = durable + 25
        _ = try LedgerArchive.restore(from: archive.target, ledgerID: id, to: atPoint.file("l"), until: .lsn(point))
        #expect(try ledgerEntries(atPoint.file("l")) == Array(all.prefix(Int(point))))
        // Sealed and archived whole: the deltas leave the manifest and the store.
        try writer?.close()
        writer = nil  // releases the writer lock
        try LedgerWriter(directory: ledger.path, options: LedgerOptions(segmentBytesTarget: 2048))
            .appendSamples(340..<400, perCommit: 20)
        _ = try LedgerArchive.archive(directory: ledger.path, to: archive.target)
        _ = try LedgerArchive.shipTail(directory: ledger.path, to: archive.target)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let manifest = try decoder.decode(
            LedgerArchive.Manifest.self, from: try #require(try archive.target.get("\(id.text)/manifest.json")))
        let open = try #require(try LedgerReader(directory: ledger.path).segments().last)
        #expect((manifest.tail ?? []).allSatisfy { $0.file == open.fileName } && !(manifest.tail ?? []).isEmpty)
        let shippedBefore = try sealedName(ledger, before: open)
        #expect(try archive.target.objectBytes(in: "\(id.text)/tail/\(shippedBefore)").isEmpty, "deltas deleted")
        let again = ScratchDirectory()
        _ = try LedgerArchive.restore(from: archive.target, ledgerID: id, to: again.path)
        #expect(try ledgerEntries(again.path) == ledgerEntries(ledger.path))
    }

    /// The segment sealed just before `open`.
    private func sealedName(_ ledger: ScratchDirectory, before open: SegmentRow) throws -> String {
        try LedgerReader(directory: ledger.path).segments().last { $0.sealed && $0.lastLSN < open.firstLSN }?.fileName
            ?? ""
    }
}
