import Foundation
import LedgerTesting
import MessageSchema
import OperatingErrors
import Testing

@testable import Ledger

@Suite struct WriteFaultTests {
    /// An fsync failure is fatal: the commit throws, nothing is published, and the writer refuses more work
    /// even though the next fsync would succeed (Linux may report success after dropping the dirty pages).
    @Test func fsyncFailureIsFatalAndPublishesNothing() throws {
        let directory = ScratchDirectory()
        let faults = FaultInjectingFileSystem(plan: FaultPlan(failingSyncNumber: 2))
        let writer = try LedgerWriter(directory: directory.path, options: LedgerOptions(fileSystem: faults))
        try writer.appendSamples(0..<10)
        for number in 10..<20 { try writer.append(Sample.record(number)) }
        let error = try #require(throws: LedgerError.self) { try writer.commit() }
        #expect(error.code == .fsyncFailed)
        #expect(writer.durableLSN == 10)
        #expect(try LedgerReader(directory: directory.path).durableLSN() == 10)
        #expect(try ledgerEntries(directory.path).count == 10)
        #expect(throws: LedgerError.self) { try writer.append(Sample.record(20)) }
        #expect(throws: LedgerError.self) { try writer.commit() }
    }

    /// After a failed fsync the frames written since the last good one may read back intact from the page cache
    /// while the disk lacks them: the next open drops them (keeping a copy) instead of publishing them as it
    /// does a crash's unpublished tail. The control: without the UNDURABLE marker they would be published.
    @Test func framesAfterAFailedFsyncAreDroppedNotPublished() throws {
        let directory = ScratchDirectory()
        do {
            let faults = FaultInjectingFileSystem(plan: FaultPlan(failingSyncNumber: 2))
            let writer = try LedgerWriter(directory: directory.path, options: LedgerOptions(fileSystem: faults))
            try writer.appendSamples(0..<10)
            for number in 10..<20 { try writer.append(Sample.record(number)) }
            #expect(throws: LedgerError.self) { try writer.commit() }
        }
        let control = try directory.copy("control")
        try FileManager.default.removeItem(atPath: control.file(UndurableMarker.fileName))
        #expect(try LedgerWriter(directory: control.path).durableLSN == 20, "the frames read back intact")
        // verify judges the durable records, which are intact, and says what the next open will drop.
        let report = try LedgerMaintenance.verify(directory: directory.path)
        #expect(
            report.isConsistent && report.durableLSN == 10 && report.undurableAfterLSN == 10
                && report.unpublishedTailBytes > 0)
        let reopened = try LedgerWriter(directory: directory.path)
        #expect(reopened.durableLSN == 10)
        #expect(reopened.recoveredTruncatedBytes > 0)
        #expect(!FileManager.default.fileExists(atPath: directory.file(UndurableMarker.fileName)))
        try reopened.appendSamples(10..<20)
        #expect(try ledgerEntries(directory.path).map(\.record) == (0..<20).map { Sample.record($0) })
    }

    /// The index's WAL reaches the database file through the background checkpoint, not inside a commit: the
    /// database file grows while the writer is open, though no commit came near SQLite's automatic threshold.
    @Test func theIndexIsCheckpointedInTheBackground() throws {
        let directory = ScratchDirectory()
        let writer = try LedgerWriter(directory: directory.path)
        let before = try fileSize(directory.file(LedgerIndex.fileName))
        try writer.appendSamples(0..<2_000, perCommit: 100, close: false)
        Thread.sleep(forTimeInterval: Double(LedgerIndex.checkpointIntervalMilliseconds) * 2.5 / 1000)
        #expect(try fileSize(directory.file(LedgerIndex.fileName)) > before)
        withExtendedLifetime(writer) {}
    }

    @Test(arguments: [FaultPlan.WriteFault.ioError, .diskFull, .shortWrite])
    func writeFailureIsFatalAndPublishesNothing(fault: FaultPlan.WriteFault) throws {
        let directory = ScratchDirectory()
        let faults = FaultInjectingFileSystem(plan: FaultPlan(failingWriteNumber: 3, writeFault: fault))
        let writer = try LedgerWriter(directory: directory.path, options: LedgerOptions(fileSystem: faults))
        try writer.appendSamples(0..<20, perCommit: 10)
        for number in 20..<30 { try writer.append(Sample.record(number)) }
        let error = try #require(throws: LedgerError.self) { try writer.commit() }
        #expect(error.code == .io)
        #expect(error.context("errno") != nil && error.context("path") != nil)
        #expect(try LedgerReader(directory: directory.path).durableLSN() == 20)
        #expect(throws: LedgerError.self) { try writer.commit() }
    }

    /// After a short write the file ends in half a frame: reopening truncates it (torn tail) and keeps the rest.
    @Test func shortWriteLeavesARecoverableTornTail() throws {
        let directory = ScratchDirectory()
        do {
            let faults = FaultInjectingFileSystem(plan: FaultPlan(failingWriteNumber: 3, writeFault: .shortWrite))
            let writer = try LedgerWriter(directory: directory.path, options: LedgerOptions(fileSystem: faults))
            try writer.appendSamples(0..<20, perCommit: 10)
            for number in 20..<30 { try writer.append(Sample.record(number)) }
            #expect(throws: LedgerError.self) { try writer.commit() }
        }
        let reopened = try LedgerWriter(directory: directory.path)
        #expect(reopened.durableLSN == 20)
        #expect(reopened.recoveredTruncatedBytes > 0)
        try reopened.appendSamples(20..<30)
        #expect(try ledgerEntries(directory.path).map(\.record) == (0..<30).map { Sample.record($0) })
    }

    @Test func faultPlanSpecification() throws {
        let plan = try FaultPlan(specification: "fsync=3,write=7,write-fault=short,suffix=.seg")
        #expect(plan == FaultPlan(failingSyncNumber: 3, failingWriteNumber: 7, writeFault: .shortWrite))
        #expect(throws: LedgerError.self) { try FaultPlan(specification: "fsync=0") }
        #expect(throws: LedgerError.self) { try FaultPlan(specification: "bogus=1") }
    }
}

@Suite struct SegmentRotationTests {
    @Test func manySegmentsChainAndReadBack() throws {
        let directory = ScratchDirectory()
        let options = LedgerOptions(segmentBytesTarget: 8 << 10)
        try LedgerWriter(directory: directory.path, options: options).appendSamples(0..<20_000, perCommit: 250)
        let segments = try directory.segments()
        #expect(segments.count > 10)
        let reader = try LedgerReader(directory: directory.path)
        let rows = try reader.segments()
        #expect(rows.count == segments.count)
        #expect(rows.dropLast().allSatisfy { $0.sealed })
        for (previous, next) in zip(rows, rows.dropFirst()) {
            #expect(next.firstLSN == previous.lastLSN + 1)
            #expect(next.previousDigest == previous.digest)
        }
        #expect(try ledgerEntries(directory.path).map(\.record) == (0..<20_000).map { Sample.record($0) })
        // Reading from any LSN starts there.
        for start in [1, 2, 999, 5_001, 19_999, 20_000] as [UInt64] {
            let first = try reader.cursor(from: start).next(maxRecords: 3)
            #expect(first.first?.lsn == start)
            #expect(first.first?.record == Sample.record(Int(start) - 1))
        }
        #expect(try reader.cursor(from: 20_001).next(maxRecords: 3).isEmpty)
        #expect(try LedgerWriter(directory: directory.path, options: options).durableLSN == 20_000)
    }
}

@Suite struct ConcurrentReaderTests {
    /// A reader polling while a writer appends sees every record once, in order, and never past the durable LSN.
    @Test func readerFollowsWriter() async throws {
        let directory = ScratchDirectory()
        let path = directory.path
        let total = 30_000
        _ = try LedgerWriter(directory: path, options: LedgerOptions(segmentBytesTarget: 32 << 10))
        let writerThread = Task.detached {
            let writer = try LedgerWriter(directory: path, options: LedgerOptions(segmentBytesTarget: 32 << 10))
            for number in 0..<total {
                try writer.append(Sample.record(number))
                if number % 97 == 0 { try writer.commit() }
            }
            try writer.commit()
        }
        let reader = try LedgerReader(directory: path)
        let cursor = reader.cursor()
        var seen = 0
        var polls = 0
        while seen < total {
            let durableBefore = try reader.durableLSN()
            let batch = try cursor.next(maxRecords: 1000)
            for entry in batch {
                #expect(entry.lsn == UInt64(seen + 1))
                #expect(entry.record == Sample.record(seen))
                seen += 1
            }
            #expect(UInt64(seen) <= max(durableBefore, try reader.durableLSN()))
            polls += 1
            if batch.isEmpty { try await Task.sleep(for: .milliseconds(1)) }
            #expect(polls < 1_000_000)
        }
        try await writerThread.value
        #expect(seen == total)
    }
}

@Suite struct AppenderTests {
    /// Appends order 1 at offsets 0, 1, 2: accepted, then the same content (a duplicate), then other content (a
    /// conflict). `commitAfterTheFirst` runs after the first is committed, when it is given.
    func appendOrderOneThreeWays(_ appender: LedgerAppender, commitAfterTheFirst: (() throws -> Void)? = nil) throws {
        #expect(try appender.kindOfAppending(order: 1, offset: 0) == .accepted)
        if let commitAfterTheFirst {
            try appender.commit()
            try commitAfterTheFirst()
        }
        #expect(try appender.kindOfAppending(order: 1, offset: 1) == .duplicate)
        #expect(try appender.kindOfAppending(order: 1, amount: "151.00", offset: 2) == .conflict)
    }

    @Test func classifiesDuplicatesAndConflictsWithinABatchAndAcrossRestarts() throws {
        let directory = ScratchDirectory()
        do {
            let appender = LedgerAppender(writer: try LedgerWriter(directory: directory.path))
            try appendOrderOneThreeWays(appender)
            try appender.commit()
        }
        let appender = LedgerAppender(writer: try LedgerWriter(directory: directory.path))
        #expect(try appender.kindOfAppending(order: 1, offset: 3) == .duplicate)
        #expect(try appender.kindOfAppending(order: 1, amount: "1.00", offset: 4) == .conflict)
        #expect(try appender.kindOfAppending(order: 2, offset: 5) == .accepted)
        #expect(
            try kind(
                appender.append(value: Array("{}".utf8), source: Sample.source(offset: 6), ingestTimeMicroseconds: 0))
                == .rejected)
        #expect(
            try kind(
                appender.append(value: nil as [UInt8]?, source: Sample.source(offset: 7), ingestTimeMicroseconds: 0))
                == .rejected)
        try appender.commit()
        let records = try ledgerEntries(directory.path).map(\.record)
        #expect(
            records.map(\.kind) == [
                .accepted, .duplicate, .conflict, .duplicate, .conflict, .accepted, .rejected, .rejected,
            ])
        if case .duplicate(_, let original) = records[3].body {
            #expect(original == 1)
        } else {
            Issue.record("not a duplicate")
        }
    }

    @Test func eachOffsetIsRecordedOnce() throws {
        let directory = ScratchDirectory()
        do {
            let appender = LedgerAppender(writer: try LedgerWriter(directory: directory.path))
            for offset in 0..<50 {
                _ = try appender.append(
                    value: Sample.json(Int(offset)), source: Sample.source(offset: Int64(offset)),
                    ingestTimeMicroseconds: 0)
            }
            try appender.commit()
        }
        let appender = LedgerAppender(writer: try LedgerWriter(directory: directory.path))
        for offset in 0..<60 {
            let outcome = try appender.append(
                value: Sample.json(Int(offset)), source: Sample.source(offset: Int64(offset)), ingestTimeMicroseconds: 0
            )
            if offset < 50 {
                #expect(outcome == .alreadyRecorded(watermark: 49))
            } else {
                #expect(try kind(outcome) == .accepted)
            }
        }
        // Another partition has its own watermark.
        #expect(try appender.kindOfAppending(order: 100, offset: 0, partition: 1) == .accepted)
        try appender.commit()
        #expect(try ledgerEntries(directory.path).count == 61)
    }

    /// Orders reach the SQLite order index in batches (`Limits.orderIndexBatchOrdersMax`): one that is durable
    /// but not yet indexed is found by the writer, by a reader and, after a crash, by recovery; verify accepts
    /// the lagging index, and a clean close completes it.
    @Test func durableOrdersNotYetIndexedAreFoundEverywhere() throws {
        let directory = ScratchDirectory()
        do {
            let appender = LedgerAppender(writer: try LedgerWriter(directory: directory.path))
            try appendOrderOneThreeWays(appender) { () throws in
                #expect(try appender.writer.index.ordersLSN() == 0, "one order is far below a batch: not indexed yet")
            }
            try appender.commit()
            #expect(try LedgerReader(directory: directory.path).acceptedLSN(of: Sample.orderID(1)) == 1)
            #expect(try LedgerReader(directory: directory.path).acceptedLSN(of: Sample.orderID(2)) == nil)
            // The writer goes away without close, as in a crash.
        }
        #expect(try LedgerMaintenance.verify(directory: directory.path).isConsistent)
        let live: [String]
        do {
            let appender = LedgerAppender(writer: try LedgerWriter(directory: directory.path))
            #expect(try appender.writer.index.ordersLSN() == 3, "recovery indexed the orders the crash left in memory")
            #expect(try appender.kindOfAppending(order: 1, offset: 3) == .duplicate)
            #expect(try appender.kindOfAppending(order: 2, offset: 4) == .accepted)
            try appender.close()
            #expect(try appender.writer.index.ordersLSN() == 5)
            live = try appender.writer.index.dump()
        }
        _ = try LedgerMaintenance.rebuildIndex(directory: directory.path)
        #expect(try LedgerIndex(path: directory.file(LedgerIndex.fileName)).dump() == live)
    }

    /// An index written by the previous version (schema 2: a 64-bit content digest in an INTEGER column) is
    /// replaced at open and rebuilt from the segments: the durable LSN stays, and repeats of orders indexed
    /// under the old schema are classified by the new digests.
    @Test func anIndexOfTheFormerSchemaIsRebuiltWithTheNewDigests() throws {
        let directory = ScratchDirectory()
        do {
            var options = LedgerOptions()
            options.orderIndexBatchOrders = 4
            let appender = LedgerAppender(writer: try LedgerWriter(directory: directory.path, options: options))
            for number in 1...12 {
                #expect(try appender.kindOfAppending(order: number, offset: Int64(number)) == .accepted)
            }
            try appender.close()
        }
        do {
            let index = try SQLiteDatabase(path: directory.file(LedgerIndex.fileName), readOnly: false)
            try index.execute(
                """
                DROP TABLE orders;
                CREATE TABLE orders(order_id BLOB PRIMARY KEY, lsn INTEGER NOT NULL, content_digest INTEGER NOT NULL)
                    WITHOUT ROWID;
                INSERT INTO orders VALUES(x'00', 1, 42);
                UPDATE meta SET value = '2' WHERE key = 'schema_version';
                """)
        }
        let appender = LedgerAppender(writer: try LedgerWriter(directory: directory.path))
        #expect(appender.durableLSN == 12)
        #expect(try appender.kindOfAppending(order: 1, offset: 13) == .duplicate)
        #expect(try appender.kindOfAppending(order: 2, amount: "1.00", offset: 14) == .conflict)
        #expect(try appender.kindOfAppending(order: 13, offset: 15) == .accepted)
        try appender.close()
        #expect(try LedgerMaintenance.verify(directory: directory.path).isConsistent)
    }

    /// A batch of orders spread over several commits, interrupted by a crash halfway: every order is still
    /// found, recovery re-inserts the batch (some of it twice, harmlessly), and the index equals a rebuilt one.
    @Test func anOrderBatchInterruptedHalfwayIsCompletedByRecovery() throws {
        let directory = ScratchDirectory()
        var options = LedgerOptions()
        options.orderIndexBatchOrders = 64
        let halfOfTheSlices = Limits.orderIndexSlicesPerBatch / 2
        func accept(_ appender: LedgerAppender, _ numbers: Range<Int>) throws {
            for number in numbers {
                _ = try appender.append(
                    value: Sample.json(number), source: Sample.source(offset: Int64(number)), ingestTimeMicroseconds: 0)
                try appender.commit()
            }
        }
        do {
            let appender = LedgerAppender(writer: try LedgerWriter(directory: directory.path, options: options))
            let sliceOrders = 64 / Limits.orderIndexSlicesPerBatch
            func indexedOrders() throws -> Int {
                try appender.writer.index.dump().filter { $0.hasPrefix("orders|") }.count
            }
            try accept(appender, 0..<64)
            #expect(try indexedOrders() == sliceOrders, "the commit that fills the batch carries its first slice")
            try accept(appender, 64..<(64 + halfOfTheSlices - 1))
            #expect(try indexedOrders() == sliceOrders * halfOfTheSlices, "half of the batch's slices are in")
            #expect(try appender.writer.index.ordersLSN() == 0, "orders_lsn moves only with the last slice")
            // The writer goes away without close, as in a crash.
        }
        do {
            let appender = LedgerAppender(writer: try LedgerWriter(directory: directory.path, options: options))
            #expect(try appender.writer.index.ordersLSN() == appender.writer.durableLSN)
            for number in [0, 33, 63, 64 + halfOfTheSlices - 2] {
                let outcome = try appender.append(
                    value: Sample.json(number), source: Sample.source(offset: 1_000 + Int64(number)),
                    ingestTimeMicroseconds: 0)
                #expect(try kind(outcome) == .duplicate, "order \(number)")
            }
            try appender.close()
        }
        #expect(try LedgerMaintenance.verify(directory: directory.path).isConsistent)
    }

    /// With the index published in the background (ledger-ingest), a commit returns before its batch is in the
    /// index: while another connection holds the publish back, every order so far (the slice in flight among
    /// them) is still found, so a repeat is a duplicate, not a new order; after close the index equals one
    /// rebuilt from the segments.
    @Test func ordersOfASlicePublishedInTheBackgroundAreFoundMeanwhile() throws {
        let directory = ScratchDirectory()
        var options = LedgerOptions()
        options.orderIndexBatchOrders = 2 * Limits.orderIndexSlicesPerBatch
        options.publishesIndexInBackground = true
        var offset: Int64 = 0
        func kind(_ appender: LedgerAppender, order: Int, amount: String = "150.99") throws -> RecordKind {
            offset += 1
            return try appender.kindOfAppending(order: order, amount: amount, offset: offset)
        }
        let live: [String]
        do {
            let appender = LedgerAppender(writer: try LedgerWriter(directory: directory.path, options: options))
            let blocker = try SQLiteDatabase(path: directory.file(LedgerIndex.fileName))
            for number in 0..<(3 * options.orderIndexBatchOrders) {
                #expect(try kind(appender, order: number) == .accepted, "order \(number)")
                try appender.writer.waitUntilIndexed()
                try blocker.execute("BEGIN IMMEDIATE")  // this commit's publish now waits for the blocker
                try appender.commit()
                for earlier in 0...number {
                    #expect(try kind(appender, order: earlier) == .duplicate, "order \(earlier) after \(number)")
                }
                #expect(try kind(appender, order: number / 2, amount: "1.00") == .conflict)
                try blocker.execute("COMMIT")
            }
            try appender.close()
            #expect(try appender.writer.index.ordersLSN() == appender.durableLSN)
            #expect(try LedgerReader(directory: directory.path).durableLSN() == appender.durableLSN)
            live = try appender.writer.index.dump()
        }
        #expect(try LedgerMaintenance.verify(directory: directory.path).isConsistent)
        _ = try LedgerMaintenance.rebuildIndex(directory: directory.path)
        #expect(try LedgerIndex(path: directory.file(LedgerIndex.fileName)).dump() == live)
    }

    /// A batch the background publisher cannot write fails the writer at its next commit, as a publish on the
    /// writer's own thread fails it at once: nothing later is published, and the writer accepts nothing more.
    @Test func aFailedBackgroundPublishFailsTheNextCommit() throws {
        let directory = ScratchDirectory()
        var options = LedgerOptions()
        options.publishesIndexInBackground = true
        let writer = try LedgerWriter(directory: directory.path, options: options)
        try writer.appendSamples(0..<10, close: false)
        try writer.waitUntilIndexed()
        // Another connection takes a table away: the next batch cannot be published.
        try SQLiteDatabase(path: directory.file(LedgerIndex.fileName)).execute("DROP TABLE frames")
        try writer.appendSamples(10..<20, close: false)
        for number in 20..<30 { try writer.append(Sample.record(number)) }
        let error = try #require(throws: LedgerError.self) { try writer.commit() }
        #expect(error.code == .index)
        #expect(try LedgerIndex(path: directory.file(LedgerIndex.fileName)).durableLSN() == 10)
        #expect(throws: LedgerError.self) { try writer.append(Sample.record(30)) }
        #expect(throws: LedgerError.self) { try writer.commit() }
    }

    /// A batch is split into key ranges of about equal size without sorting it: every order lands in exactly one
    /// range, the ranges follow each other in key order, and time-ordered UUIDs (one shared prefix) split as
    /// evenly as random ones.
    @Test(arguments: [false, true])
    func orderBatchesSplitIntoEvenKeyRanges(timeOrdered: Bool) throws {
        var generator = SystemRandomNumberGenerator()
        let batch: [IndexedOrder] = (0..<50_000).map { number in
            var bytes = withUnsafeBytes(of: UUID().uuid) { Array($0) }
            if timeOrdered {
                // A UUIDv7-like key: a millisecond clock in the first bytes, random bits after.
                withUnsafeBytes(of: (UInt64(1_764_000_000_000) + UInt64(number / 10)).bigEndian) {
                    bytes.replaceSubrange(0..<8, with: $0)
                }
            }
            let uuid = bytes.withUnsafeBytes { $0.loadUnaligned(as: uuid_t.self) }
            let digest = ContentDigest(bytes: (0..<ContentDigest.byteCount).map { _ in generator.next() })!
            return (UUID(uuid: uuid), UInt64(number + 1), digest)
        }
        let ranges = OrderIndexBacklog.keyRanges(batch.shuffled(), count: Limits.orderIndexSlicesPerBatch)
        #expect(ranges.count == Limits.orderIndexSlicesPerBatch)
        #expect(Set(ranges.joined().map(\.orderID)) == Set(batch.map(\.orderID)))
        #expect(ranges.joined().count == batch.count)
        let even = batch.count / Limits.orderIndexSlicesPerBatch
        for range in ranges {
            #expect(abs(range.count - even) < even / 3, "range of \(range.count) orders, even is \(even)")
        }
        for (lower, upper) in zip(ranges, ranges.dropFirst()) {
            let highestBelow = lower.map { LedgerIndex.keyOrder($0.orderID) }.max(by: <)!
            let lowestAbove = upper.map { LedgerIndex.keyOrder($0.orderID) }.min(by: <)!
            #expect(highestBelow < lowestAbove)
        }
    }

    /// A frame is finished (compressed and read back) before `beforeFrameWrite` runs, so that what the hook waits
    /// for arrives meanwhile (ledger-ingest's dead-letter acknowledgements). When the hook fails, the frame is not
    /// written and the writer stops: it accepts nothing more, and the reopened ledger holds what was committed.
    @Test func aFailingBeforeFrameWriteWritesNothingAndStopsTheWriter() throws {
        struct Unacknowledged: Error {}
        let directory = ScratchDirectory()
        do {
            let writer = try LedgerWriter(directory: directory.path)
            try writer.append(Sample.record(0))
            try writer.commit()
            let written = writer.bytesWritten
            var hookRuns = 0
            writer.beforeFrameWrite = {
                hookRuns += 1
                throw Unacknowledged()
            }
            try writer.append(Sample.record(1))
            let error = try #require(throws: LedgerError.self) { try writer.commit() }
            #expect(error.code == .beforeFrameWriteFailed && hookRuns == 1)
            #expect(writer.bytesWritten == written, "the frame was not written")
            let refused = try #require(throws: LedgerError.self) { try writer.append(Sample.record(2)) }
            #expect(refused.code == .writerFailed)
        }
        let reopened = try LedgerWriter(directory: directory.path)
        #expect(reopened.durableLSN == 1)
        try reopened.close()
        #expect(try ledgerEntries(directory.path).map(\.record) == [Sample.record(0)])
    }

    /// The order filter never forgets an order, also across the layers it adds as it fills, and says "maybe"
    /// for about 1% of orders it never saw (each one costs an index query, not a wrong answer).
    @Test func theOrderFilterHasNoFalseNegativesAndFewFalsePositives() {
        var filter = OrderFilter(capacityOrders: 100_000)
        let inserted = (0..<250_000).map { _ in UUID() }
        for order in inserted { filter.insert(order) }
        #expect(inserted.allSatisfy { filter.mightContain($0) }, "two layers: 100k (full), 200k (three quarters full)")
        let falsePositives = (0..<100_000).filter { _ in filter.mightContain(UUID()) }.count
        #expect(falsePositives < 2_500, "\(falsePositives) false positives in 100,000 (goal about 1% per full layer)")
    }

    /// The backlog's table of orders answers exactly as a dictionary would through random inserts, replacements
    /// and removals (removals shift entries back into the holes they leave, the case that breaks tables most),
    /// while it grows from its first size to four times it, and after being emptied.
    @Test func theOrderTableAnswersAsADictionaryWould() {
        var random = SystemRandomNumberGenerator()
        var table = OrderTable(capacityOrders: 1)
        var model: [UUID: (lsn: UInt64, contentDigest: ContentDigest)] = [:]
        var orders: [UUID] = []
        let digest = { (lsn: UInt64) in ContentDigest(high: lsn &* 31, low: ~lsn) }
        for lsn in UInt64(1)...250_000 {
            let roll = random.next(upperBound: 10 as UInt)
            if roll < 6 || orders.isEmpty {
                let order = UUID()
                orders.append(order)
                table.insert(OrderKey(order), lsn: lsn, contentDigest: digest(lsn))
                model[order] = (lsn, digest(lsn))
            } else if roll < 7 {
                let order = orders[Int(random.next(upperBound: UInt(orders.count)))]
                table.insert(OrderKey(order), lsn: lsn, contentDigest: digest(lsn))
                model[order] = (lsn, digest(lsn))
            } else {
                let order = orders[Int(random.next(upperBound: UInt(orders.count)))]
                table.remove(OrderKey(order))
                model[order] = nil
            }
        }
        // Over `slotsInitial` orders held at most half full: the table doubled at least twice.
        #expect(table.count == model.count && table.count > OrderTable.slotsInitial)
        let mismatches = orders.filter {
            table[OrderKey($0)].map { ($0.lsn, $0.contentDigest) } ?? (0, digest(0))
                != model[$0].map { ($0.lsn, $0.contentDigest) } ?? (0, digest(0))
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) orders answered otherwise than by the dictionary")
        #expect((0..<1_000).allSatisfy { _ in table[OrderKey(UUID())] == nil })
        #expect(Set(table.entries().map(\.orderID)) == Set(model.keys))
        #expect(table.entries().allSatisfy { model[$0.orderID]?.lsn == $0.lsn })
        table.removeAll()
        #expect(table.count == 0 && table.entries().isEmpty && orders.allSatisfy { table[OrderKey($0)] == nil })
    }

    /// The per-partition map answers as a dictionary would, for keys in its arrays and for those it keeps in a
    /// dictionary (negative and very large partition numbers, topics past its array topics), through sets,
    /// removals, merges and emptying.
    @Test func thePartitionMapAnswersAsADictionaryWould() {
        var random = SystemRandomNumberGenerator()
        let topics = (0..<(PartitionMap<Int64>.arrayTopicsMax + 4)).map {
            "topic-\($0)-" + String(repeating: "x", count: $0)
        }
        let partitions: [Int32] = [-1, 0, 1, 2, 7, 23, 4_095, 4_096, .max]
        let keys = topics.flatMap { topic in partitions.map { TopicPartition(topic: topic, partition: $0) } }
        var map = PartitionMap<Int64>()
        var model: [TopicPartition: Int64] = [:]
        for step in 0..<20_000 {
            let key = keys[Int(random.next(upperBound: UInt(keys.count)))]
            let value: Int64? = random.next(upperBound: 4 as UInt) == 0 ? nil : Int64(step)
            #expect(map.updateValue(value, forKey: key) == model[key], "the value replaced at step \(step)")
            model[key] = value
        }
        #expect(map.count == model.count && keys.allSatisfy { map[$0] == model[$0] })
        #expect(Dictionary(uniqueKeysWithValues: map.map { ($0.key, $0.value) }) == model)
        var other = PartitionMap<Int64>()
        for key in keys.prefix(40) { other[key] = -1 }
        map.merge(other)
        model.merge(keys.prefix(40).map { ($0, -1) }) { $1 }
        #expect(map.count == model.count && keys.allSatisfy { map[$0] == model[$0] })
        map.removeAll()
        #expect(map.isEmpty && map.keys.isEmpty && keys.allSatisfy { map[$0] == nil })
        map[keys[1]] = 5
        #expect(map.count == 1 && map[keys[1]] == 5 && map.keys == [keys[1]])
    }

    /// The content digest decides duplicate vs conflict alone, so it must be equal exactly when
    /// `hasSameContent` says so: equal for the same instant written with another offset, different when any
    /// one field differs, and different when bytes move from one text field to the next.
    @Test func theContentDigestIsEqualExactlyForTheSameContent() throws {
        func transaction(
            amount: String = "10.50", currency: String = "USD", time: String = "2026-01-15T10:30:00Z",
            customer: String = "cust_1", category: String = "books"
        ) throws -> Transaction {
            let json =
                #"{"order_id": "7d0f6f3e-2c4b-4f59-9a41-0c5a4fdf2b11", "amount": \#(amount), "currency": "\#(currency)", "timestamp": "\#(time)", "customer_id": "\#(customer)", "product_category": "\#(category)"}"#
            return try MessageValidator.validate(Array(json.utf8)).get()
        }
        let base = try transaction()
        let sameInstant = try transaction(time: "2026-01-15T12:30:00+02:00")
        #expect(sameInstant.hasSameContent(as: base) && sameInstant.contentDigest == base.contentDigest)
        let variants = [
            try transaction(amount: "10.51"), try transaction(currency: "EUR"),
            try transaction(time: "2026-01-15T10:30:00.000001Z"), try transaction(customer: "cust_2"),
            try transaction(category: "book"), try transaction(customer: "cust_1b", category: "ooks"),
        ]
        for variant in variants {
            #expect(!variant.hasSameContent(as: base) && variant.contentDigest != base.contentDigest, "\(variant)")
        }
        #expect(Set(variants.map(\.contentDigest)).count == variants.count, "every variant differs from the others")
        let stored = base.contentDigest.withBytes { Array($0) }
        #expect(stored.count == ContentDigest.byteCount && ContentDigest(bytes: stored) == base.contentDigest)
        #expect(ContentDigest(bytes: Array(stored.dropLast())) == nil, "an index value of another length is refused")
    }

    /// The order index keeps these digests on disk, so the encoding is part of the ledger's format: the digest of
    /// a fixed order must stay the first 16 bytes of the SHA-256 of its documented encoding (version 1), as
    /// computed outside Swift (Python's hashlib over the bytes the `ContentDigest` comment lays out).
    @Test func theContentDigestIsTheSHA256OfTheDocumentedEncoding() throws {
        let json =
            #"{"order_id": "7d0f6f3e-2c4b-4f59-9a41-0c5a4fdf2b11", "amount": 10.50, "currency": "USD", "timestamp": "2026-01-15T10:30:00Z", "customer_id": "cust_1", "product_category": "books"}"#
        let transaction = try MessageValidator.validate(Array(json.utf8)).get()
        let hex = transaction.contentDigest.withBytes { $0.map { String(format: "%02x", $0) }.joined() }
        #expect(hex == "43c99c28c1e980dca1c7be6c69d527b8")
    }
}
