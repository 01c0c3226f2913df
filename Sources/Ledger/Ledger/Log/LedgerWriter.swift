import Foundation
import Logging
import MessageSchema
import OperatingErrors

/// How a ledger is opened. Defaults are production values; tests shrink segments and inject faults.
public struct LedgerOptions: Sendable {
    /// A logger that drops everything: the default of library calls made without one.
    public static let quietLogger = Logger(label: "pulse.ledger", factory: { _ in SwiftLogNoOpLogHandler() })

    public var fileSystem: any FileSystem
    /// A segment is sealed once it holds at least this many bytes (`Limits.segmentBytesTarget`).
    public var segmentBytesTarget: Int
    public var logger: Logger
    /// Orders per order-index batch (`Limits.orderIndexBatchOrdersMax`); tests make batches small.
    public var orderIndexBatchOrders = Limits.orderIndexBatchOrdersMax
    /// Tests only: write records out of `RecordBounds` as binaries before the bounds did, to make the ledgers
    /// that readers and the projector must still handle (`--quarantine`).
    package var writesValuesOutOfBounds = false
    /// `ledger-bench` only: skip decoding each frame before it is written, to measure what that check costs.
    package var checksFramesReadBack = true
    /// Tests only: the format version of the segments this writer creates, to make the ledgers an older binary
    /// wrote (which a newer writer must seal rather than append to).
    package var segmentFormatVersion = SegmentFormat.version
    /// `commit` returns once the segment is fsynced, and its index batch is published from another thread
    /// (`IndexPublisher`) while the caller goes on; the index's `durable_lsn` follows within a commit. Off (the
    /// default), `commit` returns once the index is published too.
    public var publishesIndexInBackground = false

    public init(
        fileSystem: any FileSystem = PosixFileSystem(), segmentBytesTarget: Int = Limits.segmentBytesTarget,
        logger: Logger = LedgerOptions.quietLogger
    ) {
        self.fileSystem = fileSystem
        self.segmentBytesTarget = segmentBytesTarget
        self.logger = logger
    }
}

/// The single writer of a ledger directory: appends records, groups them into LZ4 frames, and makes them
/// durable with one fsync per commit (group commit), publishing the durable LSN and watermarks afterwards.
///
/// Not thread-safe: one owner drives it. An exclusive `flock` on the ledger directory keeps a second process out.
/// Any write, fsync or index failure is fatal: the writer refuses all further calls, nothing past the last
/// successful fsync is ever published, and the caller must not acknowledge anything it did not see committed.
public final class LedgerWriter {
    public let directory: String
    public let ledgerID: UUID
    /// The LSN the next appended record gets.
    public var nextLSN: UInt64 { appending.nextLSN }
    /// The last LSN that is fsynced and published (0 for an empty ledger). With
    /// `LedgerOptions.publishesIndexInBackground`: fsynced, its publish in flight until the next commit or `close`.
    public private(set) var durableLSN: UInt64
    /// Segment bytes this writer has written since it opened (frames, footers and headers of new segments).
    public private(set) var bytesWritten: Int64 = 0
    /// Bytes a torn tail lost when this writer opened (0 almost always).
    public let recoveredTruncatedBytes: Int64
    /// Runs before each frame reaches the file, mid-batch (the frame is full) or at commit: whatever the caller
    /// owes for the records appended so far must be settled here, because after a crash recovery publishes a
    /// frame it finds intact, though it was never committed. ledger-ingest flushes the dead-letter producer, so
    /// no frame on disk holds a rejection whose dead letter was not acknowledged (a crash, or a flush that
    /// failed, once lost them: the records counted as recorded and their letters were never produced). It runs
    /// after the frame is finished (compressed and read back) and before it is written: what it waits for (the
    /// dead letters' acknowledgements) arrives meanwhile. If it throws, the frame is not written, the writer fails,
    /// and the error is the caller's to report.
    public var beforeFrameWrite: (() throws -> Void)?

    private let options: LedgerOptions
    let index: LedgerIndex
    /// Checkpoints the index's WAL off the committing thread, once the writer is open; stopped with the writer.
    private var checkpointer: IndexCheckpointer?
    /// With `LedgerOptions.publishesIndexInBackground`, once the writer is open: every index write goes through it.
    private var publisher: IndexPublisher?
    private let lock: any LedgerFile
    private var segment: OpenSegment
    private var appending: AppendState
    /// What `prefetchOrders` read, kept so that the compiler cannot drop the reads; never used otherwise.
    private var prefetchSink: UInt64 = 0
    /// Published watermarks, cached: the per-message check must not query SQLite.
    private var publishedWatermarks = PartitionMap<Watermark>()
    /// The LSN through which the order index is complete once the batch being published is in (its last slice).
    private var ordersCompleteThrough: UInt64?
    private var failure: LedgerError?

    private struct OpenSegment {
        var file: any LedgerFile
        var row: SegmentRow
    }

    /// What every append reads and changes, in one stored property. Each access to a class's stored property is
    /// checked for exclusivity at run time (`swift_beginAccess`: a thread-local lookup, an insert and a removal);
    /// an append made ten such accesses, ~3 % of the ingest thread on the mix (perf, 2026-12-07), and makes five
    /// through this struct, whose members are then reached without a check.
    private struct AppendState: ~Copyable {
        /// The open frame: decoded and compared with the records appended before it is written, so the writer
        /// never makes durable what it cannot read back (DESIGN.md invariant 8).
        var frame: FrameEncoder
        var unpublished = IndexBatch()
        /// Accepted orders not yet in the SQLite order index (appended, or durable but waiting for their batch).
        var unindexedOrders: OrderIndexBacklog
        /// Every accepted order_id, so a new order needs no index query.
        var orderFilter: OrderFilter
        var nextLSN: UInt64

        /// Adds the record `frame.encode` just encoded, and what the index and the order lookups keep of it;
        /// returns its LSN.
        mutating func add(_ record: Record, _ encoded: FrameEncoder.EncodedRecord, accepted: AcceptedOrderKeys?)
            -> UInt64
        {
            frame.add(record, encoded)
            let lsn = nextLSN
            nextLSN += 1
            unpublished.note(record, lsn: lsn)
            if case .accepted(let transaction) = record.body {
                unindexedOrders.add(
                    accepted?.orderKey ?? OrderKey(transaction.orderID), lsn: lsn,
                    contentDigest: accepted?.contentDigest ?? transaction.contentDigest)
                orderFilter.insert(transaction.orderID)
            }
            return lsn
        }

        /// See `LedgerWriter.prefetchOrders`.
        func prefetch(_ keys: some Sequence<OrderKey>) -> UInt64 {
            var sink: UInt64 = 0
            for key in keys { sink ^= orderFilter.prefetch(key.orderID) ^ unindexedOrders.prefetch(key) }
            return sink
        }

        /// Where an order's accepted record is known: `.none` when the filter proves there is none; its LSN and
        /// digest when it is not yet in the order index; else the index must be asked.
        func heldOrder(_ key: OrderKey) -> HeldOrder {
            guard orderFilter.mightContain(key.orderID) else { return .none }
            return unindexedOrders[key].map { .held(lsn: $0.lsn, contentDigest: $0.contentDigest) } ?? .inIndex
        }
    }

    private enum HeldOrder {
        case none
        case held(lsn: UInt64, contentDigest: ContentDigest)
        case inIndex
    }

    /// Opens (creating if needed) the ledger in `directory`, recovering from any crash first.
    public convenience init(directory: String, options: LedgerOptions = LedgerOptions()) throws {
        try options.fileSystem.makeDirectory(directory)
        let lock = try WriterLock.take(directory, fileSystem: options.fileSystem)
        try self.init(directory: directory, options: options, lock: lock, rebuild: nil)
    }

    /// A new index built from the segments into its own file (`ledger-tool rebuild index`), which replaces the
    /// live one only once complete (`LedgerMaintenance.rebuildIndex`).
    struct IndexRebuild {
        static let fileName = "index.rebuild.sqlite"
        /// The durable LSN the replaced index published (nil when there was none, or it was unreadable).
        var publishedDurableLSN: UInt64?
        /// The operator's counted decision to drop published records that are damaged or missing.
        var drop: DurableRecordsDrop?
    }

    /// Opens the ledger under `lock` (held by the caller), with the live index or, for `rebuild`, a new one.
    init(directory: String, options: LedgerOptions, lock: any LedgerFile, rebuild: IndexRebuild?) throws {
        let fileSystem = options.fileSystem
        self.lock = lock
        let frame = FrameEncoder(
            checksBounds: !options.writesValuesOutOfBounds, checksReadBack: options.checksFramesReadBack)
        for leftover in try SegmentFiles.removeTemporaryFiles(directory, fileSystem: fileSystem) {
            options.logger.warning(
                "ledger.recovery.temporary_file_removed", metadata: ["ledger.path": "\(directory)/\(leftover)"])
        }
        let indexFileName = rebuild == nil ? LedgerIndex.fileName : IndexRebuild.fileName
        let opened = try Self.openIndex(directory, fileName: indexFileName, options: options)
        index = opened.index
        var recovery = Recovery(
            directory: directory, fileSystem: fileSystem, index: index, logger: options.logger,
            publishedDurableLSN: rebuild.map { $0.publishedDurableLSN } ?? opened.publishedDurableLSN)
        recovery.mode = .open(drop: rebuild?.drop)
        let outcome = try recovery.run()
        appending = AppendState(
            frame: frame, unindexedOrders: OrderIndexBacklog(batchOrders: options.orderIndexBatchOrders),
            orderFilter: try Self.loadOrderFilter(index), nextLSN: (outcome?.lastSegment.lastLSN ?? 0) + 1)
        self.directory = directory
        self.options = options
        recoveredTruncatedBytes = outcome?.truncatedBytes ?? 0
        if let outcome {
            ledgerID = outcome.ledgerID
            durableLSN = outcome.lastSegment.lastLSN
            let path = SegmentFiles.path(directory, firstLSN: outcome.lastSegment.firstLSN)
            segment = OpenSegment(file: try fileSystem.open(path, create: false), row: outcome.lastSegment)
            if outcome.lastSegmentSealed {
                try startSegment(previous: outcome.lastSegment)
            } else if try Self.formatVersion(path, options) < options.segmentFormatVersion {
                // An older binary's open segment: its readers could not tell the new record fields from damage.
                try rotate()
            }
        } else {
            ledgerID = UUID()
            durableLSN = 0
            try index.setMeta("ledger_id", ledgerID.uuidString)
            segment = try Self.createSegment(
                directory, ledgerID: ledgerID, firstLSN: 1, previousDigest: 0, options: options)
            try index.publish(IndexBatch(segments: [segment.row], durableLSN: 0, ordersLSN: 0))
        }
        publishedWatermarks = PartitionMap(try index.watermarks())
        if let dropped = outcome?.droppedLSNs { try fillWithLostRecords(dropped) }
        checkpointer = IndexCheckpointer(path: directory + "/" + indexFileName, logger: options.logger)
        if options.publishesIndexInBackground {
            publisher = try IndexPublisher(path: directory + "/" + indexFileName)
        }
        options.logger.info(
            "ledger.opened",
            metadata: [
                "ledger.id": "\(ledgerID.text)", "ledger.durable_lsn": "\(durableLSN)", "ledger.path": "\(directory)",
            ])
    }

    /// Published LSNs the operator dropped get a `lost` record each, in a segment of their own, so that no LSN
    /// is ever reused (DESIGN.md invariant 9): a projector that already holds rows for them goes on from its
    /// checkpoint, one that does not records each as lost, and later records keep LSNs above.
    private func fillWithLostRecords(_ lsns: ClosedRange<UInt64>) throws {
        precondition(lsns.lowerBound == nextLSN, "the lost LSNs follow the last record kept")
        try failing {
            if segment.row.recordCount > 0 { try rotate() }
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
            for _ in lsns { _ = try append(Record.lost(ingestTimeMicroseconds: now)) }
            try commit()
        }
        options.logger.critical(
            "ledger.lost_records_written",
            metadata: [
                "ledger.path": "\(directory)", "ledger.first_lsn": "\(lsns.lowerBound)",
                "ledger.last_lsn": "\(lsns.upperBound)",
            ])
    }

    /// The in-memory order filter, filled from the index (after recovery, so that it is complete).
    private static func loadOrderFilter(_ index: LedgerIndex) throws -> OrderFilter {
        var filter = OrderFilter(
            expectedOrders: try index.recordCounts()[RecordCountKey(kind: RecordKind.accepted.rawValue, reason: 0)] ?? 0
        )
        try index.forEachAcceptedOrder { filter.insert($0) }
        return filter
    }

    /// Opens the index, or replaces it when it belongs to another ledger or schema (it is only a cache). Says
    /// which durable LSN it published for this ledger: from a replaced index of another schema too, and nil
    /// when no index of this ledger says (none, or another ledger's), so that recovery cannot take published
    /// records for a torn tail.
    private static func openIndex(_ directory: String, fileName: String, options: LedgerOptions) throws -> (
        index: LedgerIndex, publishedDurableLSN: UInt64?
    ) {
        let path = directory + "/" + fileName
        let index = try LedgerIndex(path: path)
        let segments = try SegmentFiles.list(directory, fileSystem: options.fileSystem)
        let onDiskID = try segments.first.map {
            try SegmentScanner(file: options.fileSystem.openForReading($0.path)).header.ledgerID
        }
        let version = try index.meta("schema_version")
        let indexID = try index.ledgerID()
        let published = indexID != nil && indexID == onDiskID ? try index.durableLSN() : nil
        if (indexID != nil && indexID != onDiskID) || (version != nil && version != String(LedgerIndex.schemaVersion)) {
            options.logger.warning(
                "ledger.recovery.index_replaced",
                metadata: ["ledger.path": "\(path)", "ledger.index_id": "\(indexID?.text ?? "none")"])
            try LedgerIndex.remove(directory: directory, fileName: fileName, fileSystem: options.fileSystem)
            return (try openIndex(directory, fileName: fileName, options: options).index, published)
        }
        try index.setMeta("schema_version", String(LedgerIndex.schemaVersion))
        if let onDiskID { try index.setMeta("ledger_id", onDiskID.uuidString) }
        return (index, published ?? (segments.isEmpty ? 0 : nil))
    }

    // MARK: Appending

    /// Appends `record` (not yet durable) and returns its LSN. A record too large for a frame
    /// (`.recordTooLarge`) or with a value out of `RecordBounds` (`.valueOutOfBounds`) is refused and leaves the
    /// writer usable; any I/O failure is fatal.
    @discardableResult
    public func append(_ record: Record) throws -> UInt64 {
        try append(record, accepted: nil, transactionChecked: false)
    }

    /// `append`, with the order key and content digest of an accepted record's transaction when the caller has
    /// them already (`ValidatedMessage`); nil makes them here. `transactionChecked`: the record's transaction was
    /// found within `RecordBounds` where it was validated (`ValidatedMessage`), so only the rest of the record is
    /// checked here.
    func append(_ record: Record, accepted: AcceptedOrderKeys?, transactionChecked: Bool) throws -> UInt64 {
        try ensureUsable()
        let encoded = try appending.frame.encode(record, transactionChecked: transactionChecked)
        if !appending.frame.hasRoom(for: encoded) {
            try failing { try writeFrame() }
        }
        segment.row.note(record)
        return appending.add(record, encoded, accepted: accepted)
    }

    /// Makes everything appended durable: writes the open frame, fsyncs the segment once, then publishes the
    /// durable LSN and watermarks in one SQLite transaction, with a slice of the order batch being inserted (see
    /// `OrderIndexBacklog`); with `LedgerOptions.publishesIndexInBackground` the publish runs on another thread
    /// and the next commit waits for it. Returns the durable (fsynced) LSN.
    @discardableResult
    public func commit() throws -> UInt64 {
        try ensureUsable()
        try failing {
            try writeFrame()
            guard !appending.unpublished.frames.isEmpty else { return }
            try segment.file.sync()
            try waitUntilIndexed()
            appending.unpublished.segments = [segment.row]
            appending.unpublished.durableLSN = nextLSN - 1
            let slice = appending.unindexedOrders.nextSlice(durableLSN: nextLSN - 1)
            appending.unpublished.orders = slice?.orders ?? []
            appending.unpublished.ordersLSN = slice?.completeThrough
            ordersCompleteThrough = slice?.completeThrough
            try publish(appending.unpublished)
            publishedWatermarks.merge(appending.unpublished.watermarks)
            durableLSN = nextLSN - 1
            appending.unpublished = IndexBatch()
            if segment.row.byteLength >= Int64(options.segmentBytesTarget) { try rotate() }
        }
        return durableLSN
    }

    /// Commits, then completes the order index, so that the index equals one rebuilt from the segments. Call it
    /// on a clean stop; after a crash, the next open re-derives the missing orders from the segments instead.
    public func close() throws {
        try commit()
        try failing { try waitUntilIndexed() }
        guard try index.ordersLSN() < durableLSN else { return }
        try failing {
            try publish(
                IndexBatch(orders: appending.unindexedOrders.drain(), durableLSN: durableLSN, ordersLSN: durableLSN))
            try waitUntilIndexed()
            logOrdersIndexed(through: durableLSN)
        }
    }

    /// Writes `batch` to the index: now, or through the publisher (then `waitUntilIndexed` says when it is in).
    private func publish(_ batch: IndexBatch) throws {
        guard let publisher else {
            try index.publish(batch)
            return settled()
        }
        publisher.submit(batch)
    }

    /// Waits until every batch handed to the publisher is in the index (at once without one), then lets the
    /// order slice they carried leave the backlog. Commits and `close` call it; tests too, to hold a publish back.
    func waitUntilIndexed() throws {
        try publisher?.waitUntilPublished()
        settled()
    }

    /// The index holds every batch written so far: the order slice in flight leaves the backlog.
    private func settled() {
        appending.unindexedOrders.sliceInserted()
        if let complete = ordersCompleteThrough { logOrdersIndexed(through: complete) }
        ordersCompleteThrough = nil
    }

    private func logOrdersIndexed(through lsn: UInt64) {
        options.logger.debug("ledger.orders_indexed", metadata: ["ledger.orders_lsn": "\(lsn)"])
    }

    /// The highest source offset recorded for a partition, including records not yet committed.
    public func watermark(_ key: TopicPartition) throws -> Int64? {
        (appending.unpublished.watermarks[key] ?? publishedWatermarks[key])?.offset
    }

    /// See `LedgerAppender.prefetchOrders`: the order filter's block and the backlog's slot of each order.
    func prefetchOrders(_ keys: some Sequence<OrderKey>) {
        prefetchSink ^= appending.prefetch(keys)
    }

    /// The accepted record for `key`'s order, if any: its LSN and content digest, from memory for orders not yet
    /// in the order index, else from the index (one B-tree lookup; never a frame read).
    func acceptedOrder(_ key: OrderKey) throws -> (lsn: UInt64, contentDigest: ContentDigest)? {
        switch appending.heldOrder(key) {
        case .none: return nil
        case .held(let lsn, let contentDigest): return (lsn, contentDigest)
        case .inIndex: return try index.acceptedOrder(key.orderID)
        }
    }

    // MARK: Frames and segments

    /// Finishes the open frame (checked to read back as appended) and writes it (no fsync).
    private func writeFrame() throws {
        guard !appending.frame.isEmpty else { return }
        let recordCount = appending.frame.recordCount
        let firstLSN = nextLSN - UInt64(recordCount)
        let finished = appending.frame.finish(firstLSN: firstLSN, chainLink: segment.row.digest)
        do {
            try beforeFrameWrite?()
        } catch {
            // The finished frame has left the encoder: without it the writer cannot go on (`failing` stops it).
            throw LedgerError(
                .beforeFrameWriteFailed,
                "what had to be settled before a frame is written failed; the frame is not written",
                [("first_lsn", String(firstLSN)), ("records", String(recordCount)), ("cause", "\(error)")])
        }
        let offset = segment.row.byteLength
        try segment.file.write(finished.bytes, at: offset)
        bytesWritten += Int64(finished.bytes.count)
        appending.unpublished.frames.append(
            FrameRow(
                firstLSN: firstLSN, segmentFirstLSN: segment.row.firstLSN, byteOffset: offset,
                recordCount: UInt32(recordCount), storedBytes: UInt32(finished.storedLength),
                rawBytes: UInt32(finished.rawLength), crc: finished.crc))
        segment.row.byteLength += Int64(finished.bytes.count)
        segment.row.frameCount += 1
        segment.row.lastLSN = nextLSN - 1
        segment.row.digest = finished.crc
    }

    /// Seals the full segment (footer + fsync) and starts the next one.
    private func rotate() throws {
        let row = segment.row
        let footer = SegmentFooter(
            frameCount: UInt32(row.frameCount), firstLSN: row.firstLSN, recordCount: row.recordCount, digest: row.digest
        )
        try segment.file.write(footer.encoded(), at: row.byteLength)
        bytesWritten += Int64(SegmentFormat.footerBytes)
        try segment.file.sync()
        segment.row.sealed = true
        segment.row.byteLength += Int64(SegmentFormat.footerBytes)
        try startSegment(previous: segment.row)
    }

    private func startSegment(previous: SegmentRow) throws {
        precondition(
            previous.sealed && previous.lastLSN + 1 == nextLSN, "a new segment follows a sealed one at the next LSN")
        segment = try Self.createSegment(
            directory, ledgerID: ledgerID, firstLSN: nextLSN, previousDigest: previous.digest, options: options)
        try publish(IndexBatch(segments: [previous, segment.row], durableLSN: durableLSN))
        options.logger.info(
            "ledger.segment.started",
            metadata: ["ledger.segment": "\(segment.row.fileName)", "ledger.first_lsn": "\(nextLSN)"])
    }

    private static func formatVersion(_ path: String, _ options: LedgerOptions) throws -> UInt16 {
        try SegmentScanner(file: options.fileSystem.openForReading(path)).header.version
    }

    private static func createSegment(
        _ directory: String, ledgerID: UUID, firstLSN: UInt64, previousDigest: UInt32, options: LedgerOptions
    ) throws -> OpenSegment {
        var header = SegmentHeader(
            ledgerID: ledgerID, firstLSN: firstLSN, previousSegmentDigest: previousDigest,
            createdAtMicroseconds: Int64(Date().timeIntervalSince1970 * 1_000_000))
        header.version = options.segmentFormatVersion
        let file = try SegmentFiles.create(directory, header: header, fileSystem: options.fileSystem)
        let row = SegmentRow(
            firstLSN: firstLSN, fileName: SegmentFormat.fileName(firstLSN: firstLSN), lastLSN: firstLSN - 1,
            frameCount: 0,
            byteLength: Int64(SegmentFormat.headerBytes), sealed: false, previousDigest: previousDigest,
            digest: previousDigest, createdAtMicroseconds: header.createdAtMicroseconds)
        return OpenSegment(file: file, row: row)
    }

    deinit {
        // The directory lock goes with the writer: no index batch may still be written after it.
        try? publisher?.waitUntilPublished()
        checkpointer?.stop()
    }

    // MARK: Failure

    /// Leaves the `UNDURABLE` marker, so that the next open drops whatever this writer wrote after its last
    /// good fsync instead of trusting it (see `UndurableMarker`).
    private func markUndurable() {
        do {
            try UndurableMarker.write(directory, durableLSN: durableLSN, fileSystem: options.fileSystem)
        } catch {
            options.logger.critical(
                "ledger.writer.undurable_marker_failed",
                metadata: [
                    "ledger.path": "\(directory)", "ledger.durable_lsn": "\(durableLSN)", "ledger.error": "\(error)",
                ])
        }
    }

    private func ensureUsable() throws {
        if let failure {
            throw LedgerError(
                .writerFailed, "the ledger writer failed earlier and accepts nothing until reopened",
                [("cause", failure.description)])
        }
    }

    /// Runs `body`; any error makes the writer unusable (fail-stop), because after a failed write or fsync the
    /// state of the file is unknown.
    private func failing(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as LedgerError {
            failure = error
            options.logger.error("ledger.writer.failed", metadata: ["ledger.error": "\(error)"])
            markUndurable()
            throw error
        }
    }
}
