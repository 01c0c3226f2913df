import Foundation
import LedgerTesting
import Testing

@testable import Ledger

/// Issue 13: every ledger-tool command exits 0 when it did its work, 1 when a check it ran failed, and 2 when it
/// could not run (usage, no ledger, an I/O error), so that a script can tell "damage found" from "could not
/// look". Until then every failure exited 1 and a usage error 64.
@Suite struct ExitStatusTests {
    private func tool(_ arguments: String...) throws -> ProductRun { try ProductRun("ledger-tool", arguments) }

    @Test func aCheckThatFailsExitsOneAndOneThatCouldNotRunExitsTwo() throws {
        let directory = ScratchDirectory()
        try LedgerWriter(directory: directory.path).appendSamples(0..<2_000, perCommit: 100)
        #expect(try tool("verify", "--wal", directory.path).status == 0)
        #expect(try tool("stats", "--help").status == 0)
        let missing = try tool("trace", "ffffffff-0000-4000-8000-000000000000", "--wal", directory.path)
        #expect(missing.status == 1 && missing.errors.contains("is not in the ledger"), "\(missing)")

        let segment = try directory.segments().last!
        let lastFrame = try SegmentScanner(file: PosixFileSystem().openForReading(segment)).lastFrameOffset()
        try flipBit(segment, at: Int(lastFrame) + 48)
        let damaged = try tool("verify", "--wal", directory.path)
        #expect(damaged.status == 1 && damaged.errors.contains("corruption"), "\(damaged.errors)")
        #expect(try tool("inspect", "segment", segment).status == 1)

        let noLedger = try tool("verify", "--wal", directory.file("nothing-here"))
        #expect(noLedger.status == 2 && noLedger.errors.contains("no such ledger directory"), "\(noLedger.errors)")
        let usage = try tool("stats", "--no-such-option")
        #expect(usage.status == 2 && usage.errors.contains("Unknown option"))
        #expect(try tool("no-such-command").status == 2)
    }
}
