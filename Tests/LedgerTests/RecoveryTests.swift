import Foundation
import LedgerTesting
import OperatingErrors
import Testing

@testable import Ledger

/// One test per case of the recovery table in `Recovery.swift` (`RecoveryCase`), plus the write-path faults.
@Suite struct RecoveryTests {
    /// Each case's test, by a switch the compiler checks for exhaustiveness: a new recovery case without a test
    /// does not compile. The tests themselves run as the `@Test`s they are; this names them.
    static func test(of recoveryCase: RecoveryCase) -> Any {
        switch recoveryCase {
        case .emptyDirectory: RecoveryTests.emptyDirectory
        case .leftoverTemporaryFile: RecoveryTests.leftoverTemporaryFile
        case .indexBehind: RecoveryTests.indexBehind
        case .indexMissing: RecoveryTests.indexMissingIsRebuiltIdentically
        case .indexAhead: RecoveryTests.indexAhead
        case .tornTail: RecoveryTests.tornTailAtEveryByteOfTheLastFrame
        case .damagedDurableTail: RecoveryTests.damagedDurableTail
        case .durableLSNUnknown: RecoveryTests.durableLSNUnknown
        case .damageBeforeValidFrame: RecoveryTests.damageBeforeValidFrame
        case .damageInSealedSegment: RecoveryTests.damageInSealedSegment
        case .unsealedMiddleSegment: RecoveryTests.unsealedMiddleSegment
        case .brokenChain: RecoveryTests.brokenChain
        case .sealedLastSegment: RecoveryTests.sealedLastSegment
        case .undurableTail: WriteFaultTests.framesAfterAFailedFsyncAreDroppedNotPublished
        case .droppedByOperator: OperatorCommandTests.aCountedDropKeepsEveryLSNAndReusesNone
        }
    }

    /// The table at the top of Recovery.swift documents exactly the cases of the enum, in its order.
    @Test func theRecoveryTableListsEveryCase() throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Sources/Ledger/Ledger/Log/Recovery.swift")
        let rows = try String(contentsOf: source, encoding: .utf8).split(separator: "\n")
            .compactMap { line -> String? in
                guard line.hasPrefix("/// | `") else { return nil }
                return line.dropFirst("/// | `".count).prefix { $0 != "`" }.description
            }
        #expect(rows == RecoveryCase.allCases.map(\.rawValue))
        #expect(
            RecoveryCase.allCases.map { "\(type(of: Self.test(of: $0)))" }.allSatisfy { $0.contains("->") },
            "each case names a test function")
    }

    @Test func emptyDirectory() throws {
        let directory = ScratchDirectory()
        let writer = try LedgerWriter(directory: directory.path)
        #expect(writer.durableLSN == 0 && writer.nextLSN == 1)
        #expect(try directory.segments().map { ($0 as NSString).lastPathComponent } == ["00000000000000000001.seg"])
    }

    @Test func reopenKeepsEverythingCommitted() throws {
        let directory = ScratchDirectory()
        try LedgerWriter(directory: directory.path).appendSamples(0..<500, perCommit: 37)
        let reopened = try LedgerWriter(directory: directory.path)
        #expect(reopened.durableLSN == 500)
        #expect(reopened.recoveredTruncatedBytes == 0)
        #expect(try ledgerEntries(directory.path).map(\.record) == (0..<500).map { Sample.record($0) })
    }

    @Test func uncommittedRecordsAreNotDurable() throws {
        let directory = ScratchDirectory()
        do {
            let writer = try LedgerWriter(directory: directory.path)
            try writer.appendSamples(0..<10)
            for number in 10..<20 { try writer.append(Sample.record(number)) }
        }
        #expect(try LedgerWriter(directory: directory.path).durableLSN == 10)
    }

    @Test func secondWriterIsLockedOut() throws {
        let directory = ScratchDirectory()
        let writer = try LedgerWriter(directory: directory.path)
        #expect(throws: LedgerError.self) { try LedgerWriter(directory: directory.path) }
        #expect(writer.durableLSN == 0)
    }

    @Test func leftoverTemporaryFile() throws {
        let directory = ScratchDirectory()
        try LedgerWriter(directory: directory.path).appendSamples(0..<10)
        _ = FileManager.default.createFile(
            atPath: directory.file("00000000000000000011.seg.tmp"), contents: Data([1, 2, 3]))
        #expect(try LedgerWriter(directory: directory.path).durableLSN == 10)
        #expect(!FileManager.default.fileExists(atPath: directory.file("00000000000000000011.seg.tmp")))
    }

    /// Torn tail: the last frame was written but its fsync failed, so it was never published; then the file is
    /// cut at every byte of that frame. Each cut is recovered to the last published LSN, with a copy kept.
    @Test func tornTailAtEveryByteOfTheLastFrame() throws {
        let directory = ScratchDirectory()
        let faults = FaultInjectingFileSystem(plan: FaultPlan(failingSyncNumber: 4))
        var writer: LedgerWriter? = try LedgerWriter(
            directory: directory.path, options: LedgerOptions(fileSystem: faults))
        // Three commits, three fsyncs (the .tmp of segment creation is not counted).
        try writer!.appendSamples(0..<6, perCommit: 2)
        for number in 6..<9 { try writer!.append(Sample.record(number)) }
        #expect(throws: LedgerError.self) { try writer!.commit() }
        writer = nil  // The failed writer's process is gone: its lock with it.
        let path = try directory.segments().last!
        let frameEnd = try fileSize(path)
        let lastFrameStart = Int(try SegmentScanner(file: PosixFileSystem().openForReading(path)).lastFrameOffset())
        for cut in lastFrameStart..<frameEnd {
            let copy = try directory.copy()
            let segment = try copy.segments().last!
            try truncateFile(segment, to: cut)
            let recovered = try LedgerWriter(directory: copy.path)
            #expect(recovered.durableLSN == 6, "cut at \(cut)")
            #expect(recovered.recoveredTruncatedBytes == Int64(cut - lastFrameStart))
            #expect(try fileSize(segment) == lastFrameStart)
            let copies = try FileManager.default.contentsOfDirectory(atPath: copy.path).filter {
                $0.hasSuffix(".broken")
            }
            #expect(copies.count == (cut > lastFrameStart ? 1 : 0))
        }
        // Uncut, the unpublished frame reads back whole and valid, but its fsync failed, so nothing says the disk
        // holds it: the writer's UNDURABLE marker makes recovery drop it too (framesAfterAFailedFsyncAreDropped…).
        #expect(try LedgerWriter(directory: directory.path).durableLSN == 6)
    }

    /// A tail torn twice at the same offset (nothing became durable in between) keeps both tails' copies.
    @Test func tornTailTwiceAtTheSameOffsetKeepsBothCopies() throws {
        let directory = ScratchDirectory()
        try LedgerWriter(directory: directory.path).appendSamples(0..<10)
        let path = try directory.segments().last!
        let size = try fileSize(path)
        let tails = [Data(repeating: 0xAB, count: 100), Data(repeating: 0xCD, count: 37)]
        for tail in tails {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.seekToEnd()
            try handle.write(contentsOf: tail)
            try handle.close()
            #expect(try LedgerWriter(directory: directory.path).durableLSN == 10)
            #expect(try fileSize(path) == size)
        }
        let copies = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.hasSuffix(".broken")
        }
        #expect(Set(try copies.map { try Data(contentsOf: URL(fileURLWithPath: directory.file($0))) }) == Set(tails))
    }

    @Test func damageBeforeValidFrame() throws {
        let directory = ScratchDirectory()
        let (path, offsets) = try writeFrames(directory, frames: 5, recordsPerFrame: 4)
        let size = try fileSize(path)
        try flipBit(path, at: Int(offsets[2]) + SegmentFormat.frameHeaderBytes + 3)
        try LedgerIndex.remove(directory: directory.path, fileSystem: PosixFileSystem())  // durable LSN unknown
        let error = try #require(throws: LedgerError.self) { try LedgerWriter(directory: directory.path) }
        #expect(error.code == .corruption)
        #expect(error.context("offset") == String(offsets[2]))
        #expect(error.context("case") == "damageBeforeValidFrame")
        #expect(error.context("expected") != nil && error.context("found") != nil)
        #expect(try fileSize(path) == size, "never silently truncated")
    }

    @Test func damagedDurableTail() throws {
        let directory = ScratchDirectory()
        let (path, offsets) = try writeFrames(directory, frames: 3, recordsPerFrame: 4)
        let size = try fileSize(path)
        try flipBit(path, at: Int(offsets[2]) + SegmentFormat.frameHeaderBytes + 1)
        let error = try #require(throws: LedgerError.self) { try LedgerWriter(directory: directory.path) }
        #expect(error.code == .corruption && error.context("case") == "damagedDurableTail")
        #expect(error.context("offset") == String(offsets[2]))
        #expect(try fileSize(path) == size)
    }

    @Test func damageInSealedSegment() throws {
        let directory = try ledgerOfSmallSegments()
        let first = try directory.segments()[0]
        try flipBit(first, at: SegmentFormat.headerBytes + SegmentFormat.frameHeaderBytes + 5)
        try LedgerIndex.remove(directory: directory.path, fileSystem: PosixFileSystem())
        let error = try #require(throws: LedgerError.self) { try LedgerWriter(directory: directory.path) }
        #expect(error.code == .corruption && error.context("case") == "damageInSealedSegment")
        #expect(error.context("path") == first && error.context("offset") == String(SegmentFormat.headerBytes))
    }

    @Test func damagedFooterOfIndexedSealedSegment() throws {
        let directory = try ledgerOfSmallSegments()
        let first = try directory.segments()[0]
        try flipBit(first, at: try fileSize(first) - 6)
        let error = try #require(throws: LedgerError.self) { try LedgerWriter(directory: directory.path) }
        #expect(error.code == .corruption && error.context("path") == first)
    }

    @Test func unsealedMiddleSegment() throws {
        let directory = try ledgerOfSmallSegments()
        let first = try directory.segments()[0]
        try truncateFile(first, to: try fileSize(first) - SegmentFormat.footerBytes)
        try LedgerIndex.remove(directory: directory.path, fileSystem: PosixFileSystem())
        let error = try #require(throws: LedgerError.self) { try LedgerWriter(directory: directory.path) }
        #expect(error.code == .corruption && error.message.contains("unsealedMiddleSegment"))
    }

    @Test func brokenChain() throws {
        let directory = try ledgerOfSmallSegments()
        let segments = try directory.segments()
        try FileManager.default.removeItem(atPath: segments[1])
        let error = try #require(throws: LedgerError.self) { try LedgerWriter(directory: directory.path) }
        #expect(error.message.contains("brokenChain"))
    }

    @Test func sealedLastSegment() throws {
        let directory = try ledgerOfSmallSegments()
        let segments = try directory.segments()
        try FileManager.default.removeItem(atPath: segments.last!)  // the crash came before the next segment existed
        let writer = try LedgerWriter(directory: directory.path)
        #expect(writer.durableLSN == 300)
        #expect(try directory.segments().count == segments.count)
        try writer.appendSamples(300..<310)
        #expect(try ledgerEntries(directory.path).count == 310)
    }

    /// Frames a writer wrote and fsynced but never published (killed before its SQLite commit): the index is
    /// behind the segments, and recovery indexes them.
    @Test func indexBehind() throws {
        let directory = ScratchDirectory()
        try LedgerWriter(directory: directory.path).appendSamples(0..<50, perCommit: 10)
        let older = try directory.copy("older")
        try LedgerWriter(directory: directory.path).appendSamples(50..<80, perCommit: 10)
        for name in [LedgerIndex.fileName, LedgerIndex.fileName + "-wal"]
        where FileManager.default.fileExists(atPath: older.file(name)) {
            try? FileManager.default.removeItem(atPath: directory.file(name))
            try FileManager.default.copyItem(atPath: older.file(name), toPath: directory.file(name))
        }
        try? FileManager.default.removeItem(atPath: directory.file(LedgerIndex.fileName + "-shm"))
        #expect(try LedgerIndex(path: directory.file(LedgerIndex.fileName)).durableLSN() == 50)
        #expect(try LedgerWriter(directory: directory.path).durableLSN == 80)
        #expect(try ledgerEntries(directory.path).map(\.record) == (0..<80).map { Sample.record($0) })
    }

    /// Damage at the end of the last segment and no index to say what was published: even a torn tail may hold
    /// acknowledged records, so recovery stops; the operator's `unknown` allows the cut.
    @Test func durableLSNUnknown() throws {
        let directory = ScratchDirectory()
        try LedgerWriter(directory: directory.path).appendSamples(0..<20)
        let segment = try directory.segments().last!
        let size = try fileSize(segment)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: segment))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(repeating: 0xAB, count: 100))
        try handle.close()
        try LedgerIndex.remove(directory: directory.path, fileSystem: PosixFileSystem())
        let error = try #require(throws: LedgerError.self) { try LedgerWriter(directory: directory.path) }
        #expect(error.code == .corruption && error.context("case") == "durableLSNUnknown")
        #expect(error.context("repair")?.contains("--drop-durable-records unknown") == true)
        #expect(try fileSize(segment) == size + 100, "nothing cut without the operator")
        #expect(try LedgerMaintenance.rebuildIndex(directory: directory.path, drop: .unknownCount).durableLSN == 20)
        #expect(try fileSize(segment) == size)
    }

    @Test func indexAhead() throws {
        let directory = ScratchDirectory()
        try LedgerWriter(directory: directory.path).appendSamples(0..<50, perCommit: 10)
        let saved = try directory.copy("saved")
        try LedgerWriter(directory: directory.path).appendSamples(50..<60)
        // Put back the older segment under the newer index: the index claims LSNs the segments lack.
        let segment = try directory.segments().last!
        try FileManager.default.removeItem(atPath: segment)
        try FileManager.default.copyItem(atPath: try saved.segments().last!, toPath: segment)
        let error = try #require(throws: LedgerError.self) { try LedgerWriter(directory: directory.path) }
        #expect(error.message.contains("indexAhead"))
    }

    @Test func indexMissingIsRebuiltIdentically() throws {
        let directory = try ledgerOfSmallSegments(2000, segmentBytes: 4096, perCommit: 64)
        let before = try LedgerIndex(path: directory.file(LedgerIndex.fileName)).dump()
        try LedgerIndex.remove(directory: directory.path, fileSystem: PosixFileSystem())
        _ = try LedgerWriter(directory: directory.path, options: LedgerOptions(segmentBytesTarget: 4096))
        let after = try LedgerIndex(path: directory.file(LedgerIndex.fileName)).dump()
        #expect(before.count > 1000)
        #expect(before == after)
    }

    @Test func indexOfAnotherLedgerIsReplaced() throws {
        let directory = ScratchDirectory()
        let other = ScratchDirectory("other")
        try LedgerWriter(directory: directory.path).appendSamples(0..<20)
        try LedgerWriter(directory: other.path).appendSamples(0..<5)
        let expected = try LedgerIndex(path: directory.file(LedgerIndex.fileName)).dump()
        try LedgerIndex.remove(directory: directory.path, fileSystem: PosixFileSystem())
        try FileManager.default.copyItem(
            atPath: other.file(LedgerIndex.fileName), toPath: directory.file(LedgerIndex.fileName))
        #expect(try LedgerWriter(directory: directory.path).durableLSN == 20)
        #expect(try LedgerIndex(path: directory.file(LedgerIndex.fileName)).dump() == expected)
    }
}

extension SegmentScanner {
    /// The offset of the last valid frame (test helper).
    func lastFrameOffset() throws -> Int64 {
        var last: Int64 = -1
        while case .frame(let frame) = try next() { last = frame.offset }
        return last
    }
}
