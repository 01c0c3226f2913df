import Foundation
import LedgerTesting
import Testing

@testable import Ledger

/// Issue 14, first part: sealed segments go to a `file://` archive, verified after upload, idempotently; a
/// ledger restored from it verifies and holds the same records; a damaged or missing object is reported, never
/// skipped, and a restore from it is refused naming the object.
@Suite struct ArchiveTests {
    private func archiveAndRestore() throws -> (ledger: ScratchDirectory, archive: ScratchDirectory, id: UUID) {
        let ledger = try ledgerOfSmallSegments(300, segmentBytes: 2048, perCommit: 20)
        let archive = ScratchDirectory()
        let first = try LedgerArchive.archive(directory: ledger.path, to: FileArchive(root: archive.path))
        #expect(first.uploaded.count >= 3 && first.alreadyArchived == 0 && first.repaired.isEmpty)
        let again = try LedgerArchive.archive(directory: ledger.path, to: FileArchive(root: archive.path))
        #expect(again.uploaded.isEmpty && again.alreadyArchived == first.uploaded.count, "idempotent")
        return (ledger, archive, first.ledgerID)
    }

    @Test func aRestoredLedgerVerifiesAndHoldsTheArchivedRecords() throws {
        let (ledger, archive, id) = try archiveAndRestore()
        let restored = ScratchDirectory()
        let report = try LedgerArchive.restore(from: FileArchive(root: archive.path), ledgerID: id, to: restored.path)
        let sealed = try LedgerReader(directory: ledger.path).segments().filter(\.sealed)
        #expect(report.durableLSN == sealed.last!.lastLSN && report.segments == sealed.count)
        #expect(try LedgerMaintenance.verify(directory: restored.path).isConsistent)
        let original = try ledgerEntries(ledger.path).prefix(Int(report.durableLSN))
        #expect(try ledgerEntries(restored.path) == Array(original))
        #expect(try LedgerReader(directory: restored.path).ledgerID == id)
    }

    @Test func aDamagedOrMissingObjectIsReportedRepairedAndNeverRestored() throws {
        let (ledger, archive, id) = try archiveAndRestore()
        let objects = archive.file("\(id.text)/segments")
        let names = try FileManager.default.contentsOfDirectory(atPath: objects).sorted()
        try flipBit(objects + "/" + names[1], at: 100)
        // A restore from the damaged archive is refused, naming the object, and writes no ledger.
        let refused = ScratchDirectory()
        let error = try #require(throws: LedgerError.self) {
            try LedgerArchive.restore(from: FileArchive(root: archive.path), ledgerID: id, to: refused.path)
        }
        #expect(error.code == .corruption && error.context("object")?.hasSuffix(names[1]) == true)
        #expect(throws: LedgerError.self) { try LedgerReader(directory: refused.path) }
        // The next archive run finds it, and the missing one, and uploads both again.
        try FileManager.default.removeItem(atPath: objects + "/" + names[2])
        let repair = try LedgerArchive.archive(directory: ledger.path, to: FileArchive(root: archive.path))
        #expect(Set(repair.repaired) == [names[1], names[2]] && repair.uploaded.isEmpty)
        let restored = ScratchDirectory()
        _ = try LedgerArchive.restore(from: FileArchive(root: archive.path), ledgerID: id, to: restored.path)
        #expect(try LedgerMaintenance.verify(directory: restored.path).isConsistent)
    }

    /// A sealed segment never changes: when its archived object is gone and the local copy no longer hashes to
    /// what the manifest verified, the run stops with the damage instead of archiving the damaged copy.
    @Test func aDamagedLocalCopyNeverReplacesTheArchivedOne() throws {
        let (ledger, archive, id) = try archiveAndRestore()
        let name = try #require(try LedgerReader(directory: ledger.path).segments().first(where: \.sealed)?.fileName)
        try FileManager.default.removeItem(atPath: archive.file("\(id.text)/segments/\(name)"))
        try flipBit(ledger.file(name), at: 200)
        let error = try #require(throws: LedgerError.self) {
            try LedgerArchive.archive(directory: ledger.path, to: FileArchive(root: archive.path))
        }
        #expect(error.code == .corruption && error.context("path")?.hasSuffix(name) == true)
        #expect(!FileManager.default.fileExists(atPath: archive.file("\(id.text)/segments/\(name)")))
    }

    @Test func theCommandsSpeakJSONAndRefuseWhatTheyCannotDo() throws {
        let ledger = try ledgerOfSmallSegments(100, segmentBytes: 2048, perCommit: 20)
        let archive = ScratchDirectory()
        let archived = try ProductRun(
            "ledger-tool", ["archive", "--wal", ledger.path, "--to", "file://" + archive.path, "-o", "json"])
        #expect(archived.status == 0 && archived.output.contains("\"schema\":\"pulse-ledger.archive.v1\""))
        let restored = try ProductRun(
            "ledger-tool",
            ["restore", "--from", "file://" + archive.path, "--wal", archive.file("restored"), "-o", "json"])
        #expect(restored.status == 0 && restored.output.contains("\"durable_lsn\""), "\(restored.errors)")
        let again = try ProductRun(
            "ledger-tool", ["restore", "--from", "file://" + archive.path, "--wal", archive.file("restored")])
        #expect(again.status == 2 && again.errors.contains("empty or new directory"))
        let s3 = try ProductRun("ledger-tool", ["archive", "--wal", ledger.path, "--to", "s3://bucket/prefix"])
        #expect(s3.status == 2 && s3.errors.contains("only file:///path"))
    }
}
