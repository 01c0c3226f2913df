import Foundation
import KafkaClient
import Ledger
import Logging
import MessageSchema
import OperatingErrors
import ServiceKit

/// The consume → validate → append → (dead-letter acknowledged) → fsync → commit cycle. Runs on one dedicated
/// thread: librdkafka and fsync block, and must not hold a thread of Swift's cooperative pool.
///
/// Order within a batch, and why:
/// 1. every message is appended to the ledger (not yet durable); rejected and conflicting ones are also queued
///    to the dead-letter topic;
/// 2. before any frame of records reaches the segment file (mid-batch when a frame fills, or at the commit),
///    the dead-letter producer is flushed: all acknowledged (acks=all) or nothing is written and ingest stops
///    (`LedgerWriter.beforeFrameWrite`). Recovery publishes an intact frame after a crash, so a frame written
///    before its letters were acknowledged would have lost them for good;
/// 3. the ledger commits: one fsync, then the durable LSN and watermarks are published;
/// 4. only then are the Kafka offsets committed.
/// A crash anywhere before 4 re-delivers what is not in the ledger: the ledger skips what it holds (exactly
/// once per offset), and the dead-letter topic may receive a message twice (at least once; its headers carry
/// the source coordinates to deduplicate on).
final class IngestLoop {
    private let configuration: IngestConfiguration
    private let logger: Logger
    private let appender: LedgerAppender
    private let deadLetters: KafkaProducer
    private var consumer: KafkaConsumer!
    private let metrics = IngestMetrics()
    /// The next offset per partition for messages consumed since the last fsync (not yet durable).
    private var pending = PartitionMap<Int64>()
    /// The next offset per partition for durable messages whose offsets are not yet committed to Kafka.
    private var committable: [TopicPartition: Int64] = [:]
    /// The offset each assigned partition must deliver next: where it was started, then after each message. A
    /// message past it means offsets vanished before they were read (`gapBeforeMessage`).
    private var expectedNext = PartitionMap<Int64>()
    /// The ledger was restored from an archive (`RestoreMarker`): partitions start at the ledger's watermark,
    /// whatever the group committed, until the group's offsets have been moved back to the ledger's.
    private var resumingAfterRestore: Bool
    /// Partitions whose group offset must still be moved back to the ledger's position (after a restore).
    private var rewindsPending: Set<TopicPartition> = []
    private var lastCommitAttempt = DispatchTime(uptimeNanoseconds: 0)
    private var bytesDurable: Int64 = 0
    private var fetchMemory = FetchMemoryReturn()
    /// See `recordKey`.
    private var keyBuffer: [UInt8] = []
    private var diskSpace: DiskSpace
    private var archiveShipper: ArchiveShipper?
    private let stopRequested: StopSignal

    init(configuration: IngestConfiguration, logger: Logger, stopRequested: StopSignal) throws {
        self.configuration = configuration
        self.logger = logger
        self.stopRequested = stopRequested
        diskSpace = DiskSpace(directory: configuration.ledgerDirectory)
        resumingAfterRestore = RestoreMarker.exists(in: configuration.ledgerDirectory)
        if resumingAfterRestore {
            logger.warning(
                "ingest.resuming_after_restore",
                metadata: [
                    "ledger.path": "\(configuration.ledgerDirectory)", "ledger.marker": "\(RestoreMarker.fileName)",
                ])
        }
        var options = LedgerOptions(
            fileSystem: configuration.fileSystem, segmentBytesTarget: configuration.segmentBytesTarget, logger: logger)
        // Offsets wait for the fsync only: the index is published beside the next batch's appends.
        options.publishesIndexInBackground = true
        let writer = try LedgerWriter(directory: configuration.ledgerDirectory, options: options)
        let deadLetters = try KafkaProducer(properties: configuration.deadLetterProperties, logger: logger)
        writer.beforeFrameWrite = {
            try deadLetters.flush(timeoutMilliseconds: IngestLimits.deadLetterFlushMilliseconds)
        }
        appender = LedgerAppender(writer: writer, unknownFields: configuration.unknownFields)
        self.deadLetters = deadLetters
        let handlers = RebalanceHandlers(
            assigned: { [unowned self] in try self.startOffsets(for: $0) },
            revoking: { [unowned self] in try self.partitionsRevoked($0) })
        consumer = try KafkaConsumer(properties: configuration.consumerProperties, logger: logger, handlers: handlers)
        metrics.durableLSN.record(Int64(appender.durableLSN))
        archiveShipper = configuration.archive.map {
            ArchiveShipper(
                directory: configuration.ledgerDirectory, target: $0,
                intervalSeconds: configuration.archiveIntervalSeconds, tailSeconds: configuration.archiveTailSeconds,
                logger: logger)
        }
    }

    /// Consumes until a stop is requested, then makes everything durable, commits and leaves the group.
    func run() throws {
        prepareDeadLetters()
        try consumer.subscribe([configuration.topic])
        logger.info(
            "ingest.started",
            metadata: [
                "kafka.topic": "\(configuration.topic)", "kafka.group": "\(configuration.group)",
                "ledger.durable_lsn": "\(appender.durableLSN)",
            ])
        metrics.up.record(1)
        while !stopRequested.isRequested {
            let consumed = try consumer.consumeMessages(
                maxMessages: configuration.batchMessagesMax, timeoutMilliseconds: configuration.batchWaitMilliseconds,
                includeHeaders: true
            ) { messages in
                defer { metrics.addTally() }
                // The ingest time of every record of the batch: its messages arrived together.
                let received = Self.nowMicroseconds()
                let validations = BatchValidation(
                    messages.map(\.value), unknownFields: configuration.unknownFields)
                // Messages and validations are passed where they lie, not copied (a copy of each cost 3 % of the
                // ingest thread in memmove and reference counting).
                var chunk = UnsafeBufferPointer<ValidatedMessage>(start: nil, count: 0)
                var chunkStart = 0
                for index in messages.indices {
                    if let next = validations.chunk(startingAt: index) {
                        appender.prefetchOrders(next)
                        (chunk, chunkStart) = (next, index)
                    }
                    try handle(messages[index], chunk[index - chunkStart], receivedMicroseconds: received)
                }
            }
            reportClientErrors()
            try makeDurable()
            commitOffsets(force: false)
            updateLag()
            diskSpace.sampleIfDue()
            if fetchMemory.noteBatch(messages: consumed) { logger.debug("ingest.memory_trimmed") }
        }
        try makeDurable()
        try appender.close()
        archiveShipper?.stop()
        // Everything is durable and indexed. What is left (the last offset commit, leaving the group) is
        // advisory, and must not keep a stopping process alive while the cluster does not answer.
        let watchdog = exitAfterGracePeriod()
        commitOffsets(force: true)
        do {
            try consumer.close()
        } catch let error as KafkaError {
            // Leaving the group cleanly is a courtesy to the other members.
            logger.warning("ingest.close_failed", metadata: ["kafka.error": "\(error)"])
        }
        watchdog.cancel()
        metrics.up.record(0)
        logger.info("ingest.stopped", metadata: ["ledger.durable_lsn": "\(appender.durableLSN)"])
    }

    /// Looks the dead-letter topic up before the first batch needs it: otherwise the first batch with a dead letter
    /// waits about a second at its flush while librdkafka learns the topic (a third of a 300k-message backlog's
    /// ingest time). Best effort: a cluster that does not answer yet is no reason not to start.
    private func prepareDeadLetters() {
        do {
            let partitions = try deadLetters.partitionCount(
                configuration.deadLetterTopic, timeoutMilliseconds: IngestLimits.deadLetterLookupMilliseconds)
            logger.debug(
                "ingest.dead_letter_topic",
                metadata: ["kafka.topic": "\(configuration.deadLetterTopic)", "kafka.partitions": "\(partitions)"])
        } catch {
            logger.warning(
                "ingest.dead_letter_topic_unknown",
                metadata: ["kafka.topic": "\(configuration.deadLetterTopic)", "kafka.error": "\(error)"])
        }
    }

    /// Ends the process with status 0 if committing and leaving the group outlast
    /// `IngestLimits.stopGraceSeconds`: the ledger is durable and closed, and it decides where the next start
    /// resumes, so nothing is lost; librdkafka's close can wait much longer for a coordinator that is gone.
    private func exitAfterGracePeriod() -> DispatchWorkItem {
        let exit = DispatchWorkItem { [logger] in
            logger.warning(
                "ingest.stop.kafka_unresponsive", metadata: ["ingest.grace_seconds": "\(IngestLimits.stopGraceSeconds)"]
            )
            Glibc._exit(0)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(IngestLimits.stopGraceSeconds), execute: exit)
        return exit
    }

    /// `validation` is the message's `LedgerAppender.validate` result (made with the rest of its batch).
    private func handle(
        _ message: borrowing KafkaMessageView, _ validation: borrowing ValidatedMessage, receivedMicroseconds: Int64
    ) throws {
        if let error = message.error { return try handleEvent(error, message) }
        metrics.tallyConsumedMessage()
        let partition = TopicPartition(topic: message.topic, partition: message.partition)
        // One access for the check and the update (this runs for every message).
        // A throw below ends the loop, so the partition's expected offset moving first changes nothing.
        if let expected = expectedNext.updateValue(message.offset + 1, forKey: partition), message.offset > expected {
            try recordVanishedOffsets(
                partition, first: expected, last: message.offset - 1, receivedMicroseconds: receivedMicroseconds)
        }
        let source = SourceCoordinates(
            topic: message.topic, partition: message.partition, offset: message.offset,
            kafkaTimestampMilliseconds: message.timestampMilliseconds, key: recordKey(message.key),
            headers: message.headers.map { MessageHeader(name: Array($0.name.utf8), value: $0.value) })
        let outcome = try appender.append(
            value: message.value, source: source, ingestTimeMicroseconds: receivedMicroseconds, validated: validation)
        switch outcome {
        case .appended(_, let kind, let rejection):
            metrics.tallyAppended(kind)
            if let rejection { try sendToDeadLetters(message, rejection) }
        case .alreadyRecorded:
            metrics.tallyAlreadyRecordedMessage()
        }
        pending[partition] = message.offset + 1
    }

    /// A message's key as its record takes it, in one buffer refilled from message to message. A record lives
    /// only until `append` has encoded it, so by the next message this loop holds the buffer alone again and
    /// refills it in place, without the malloc and free of a new array per message (with the copy, 6.0 % of the
    /// ingest thread on the mix, now 5.4 %: most of it is the copy's first read of the key's bytes, a cache miss
    /// that any use of the key pays; perf --call-graph dwarf, 2026-12-07). Were a record kept longer (debug builds
    /// keep a frame's records), copy-on-write gives the next key a new buffer: slower, never wrong.
    private func recordKey(_ key: UnsafeRawBufferPointer?) -> [UInt8]? {
        guard let key else { return nil }
        keyBuffer.removeAll(keepingCapacity: true)
        keyBuffer.append(contentsOf: key)
        return keyBuffer
    }

    /// Produces a refused message to the dead-letter topic with the reason in headers. The value goes unchanged
    /// unless it is larger than `IngestLimits.deadLetterValueBytesMax` (an oversized message could never be
    /// accepted by the topic and would stall ingest): then its first bytes go, marked truncated, exactly as the
    /// ledger keeps them; the whole message is still in the source topic at the coordinates in the headers.
    private func sendToDeadLetters(_ message: KafkaMessageView, _ rejection: Rejection) throws {
        metrics.rejected(rejection.reason).increment()
        metrics.deadLetters.increment()
        let originalBytes = message.value?.count ?? 0
        let truncated = originalBytes > IngestLimits.deadLetterValueBytesMax
        let value = message.value.map {
            Array(truncated ? UnsafeRawBufferPointer(rebasing: $0.prefix(Limits.rejectedRawBytesKeptMax)) : $0)
        }
        try deadLetters.produce(
            topic: configuration.deadLetterTopic, key: message.key.map { Array($0) }, value: value,
            // The message's own headers first (trace context travels on), then why it was refused and where it is.
            headers: Self.ownHeaders(message) + [
                ("reason", Array(rejection.reason.code.utf8)), ("field", Array(rejection.field.utf8)),
                ("source.topic", Array(message.topic.utf8)),
                ("source.partition", Array(String(message.partition).utf8)),
                ("source.offset", Array(String(message.offset).utf8)),
                ("validator.version", Array(String(MessageValidator.version).utf8)),
                ("value.original_bytes", Array(String(originalBytes).utf8)),
                ("value.truncated", Array(String(truncated).utf8)),
            ])
    }

    private static func ownHeaders(_ message: KafkaMessageView) -> [(String, [UInt8])] {
        message.headers.map { header -> (String, [UInt8]) in (header.name, header.value ?? []) }
    }

    /// Dead letters acknowledged, then one fsync: after this, the consumed offsets may be committed. The writer
    /// flushes the dead letters itself (`beforeFrameWrite`) once it has compressed and checked the batch's last
    /// frame, before writing it: their acknowledgements arrive while it works, where flushing here first waited
    /// for them with nothing else to do (38-71 ms of a 300k-message backlog's ingest). A batch that leaves the
    /// frame empty appended nothing since the last frame was written, so no letter since that frame's flush.
    private func makeDurable() throws {
        guard !pending.isEmpty else { return }
        let started = DispatchTime.now().uptimeNanoseconds
        let durable = try appender.commit()
        metrics.fsyncSeconds.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
        metrics.durableLSN.record(Int64(durable))
        metrics.batches.increment()
        recordBytesWritten()
        for (partition, next) in pending { committable[partition] = max(committable[partition] ?? next, next) }
        pending.removeAll()
    }

    /// Commits durable offsets at most every `IngestLimits.offsetCommitIntervalMilliseconds` (or now, when
    /// forced before partitions are released). Failures are not fatal: the ledger, not Kafka, decides where
    /// consumption resumes; the offsets stay queued for the next attempt.
    private func commitOffsets(force: Bool) {
        let now = DispatchTime.now()
        let interval = UInt64(IngestLimits.offsetCommitIntervalMilliseconds) * 1_000_000
        guard !committable.isEmpty, force || now.uptimeNanoseconds - lastCommitAttempt.uptimeNanoseconds >= interval
        else { return }
        lastCommitAttempt = now
        do {
            try consumer.commit(committable, timeoutMilliseconds: IngestLimits.offsetCommitWaitMilliseconds)
        } catch {
            metrics.commitFailures.increment()
            logger.warning("ingest.offset_commit_failed", metadata: ["kafka.error": "\(error)"])
            return
        }
        rewindsPending.subtract(committable.keys)
        if resumingAfterRestore && rewindsPending.isEmpty { finishResumingAfterRestore() }
        for (partition, next) in committable { metrics.watermark(partition).record(next - 1) }
        committable.removeAll(keepingCapacity: true)
    }

    /// Where each newly assigned partition starts: after the ledger's durable watermark, or at the group's
    /// committed offset if that is further (another ledger consumed up to there), or at the beginning.
    private func startOffsets(for partitions: [TopicPartition]) throws -> [TopicPartition: Int64] {
        if resumingAfterRestore { try checkWholeTopicAssigned(partitions) }
        let committed =
            (try? consumer.committedOffsets(
                partitions, timeoutMilliseconds: IngestLimits.committedOffsetsWaitMilliseconds)) ?? [:]
        var starts: [TopicPartition: Int64] = [:]
        for partition in partitions {
            let afterLedger = try appender.watermark(partition).map { $0 + 1 }
            let group = committed[partition].flatMap { $0 >= 0 ? $0 : nil }
            // A partition neither this ledger nor the group has read starts at offset 0: if retention already
            // deleted its oldest offsets, that is a gap to stop at or record, never a silent start further on.
            // After a restore the group's offset may count what the lost ledger held: the ledger alone decides.
            let next = resumingAfterRestore ? afterLedger ?? 0 : [afterLedger, group].compactMap { $0 }.max() ?? 0
            let start = try skipDeletedOffsets(partition, next: next)
            expectedNext[partition] = start
            if resumingAfterRestore, let group, group > start {
                committable[partition] = start  // moves the group's offset back to where this ledger ends
                rewindsPending.insert(partition)
            }
            // A predecessor killed between its fsync and its offset commit left the group behind the ledger. If
            // nothing more arrives on this partition, no batch would ever commit it: commit the ledger's position.
            if let afterLedger, afterLedger > group ?? kafkaOffsetBeginning {
                committable[partition] = max(committable[partition] ?? 0, afterLedger)
            }
            if afterLedger != group {
                logger.info(
                    "ingest.assignment.offsets_differ",
                    metadata: [
                        "kafka.partition": "\(partition)",
                        "ledger.next_offset": "\(afterLedger.map(String.init) ?? "none")",
                        "kafka.committed_offset": "\(group.map(String.init) ?? "none")",
                        "ingest.start_offset": "\(start)",
                    ])
            }
            starts[partition] = start
        }
        logger.info(
            "ingest.partitions_assigned",
            metadata: ["kafka.partitions": "\(partitions.sorted().map(\.description).joined(separator: ","))"])
        // The group is nowhere past this restored ledger: nothing to move back.
        if resumingAfterRestore && rewindsPending.isEmpty { finishResumingAfterRestore() }
        return starts
    }

    /// A restored ledger must re-read every partition from its own watermark: the group's offsets count what the
    /// lost ledger held. Another instance given some of the partitions would start them at those offsets and skip
    /// what was lost (seen in the two-instance fault campaign, seed 45220261), so a restored ledger refuses to start
    /// unless it has the whole topic: the other instances wait until it has moved the group's offsets back.
    private func checkWholeTopicAssigned(_ partitions: [TopicPartition]) throws {
        for topic in Set(partitions.map(\.topic)) {
            let count = try consumer.partitionCount(topic)
            let assigned = partitions.filter { $0.topic == topic }.count
            guard assigned == count else {
                throw IngestError(
                    .restoreNeedsWholeGroup,
                    "this ledger was restored from an archive and must re-read every partition itself: stop the other ingest instances of the group until this one logs ingest.restore_marker_removed",
                    [
                        ("topic", topic), ("assigned_partitions", "\(assigned)"), ("topic_partitions", "\(count)"),
                        ("marker", configuration.ledgerDirectory + "/" + RestoreMarker.fileName),
                    ])
            }
        }
    }

    /// The group's offsets now agree with the restored ledger: the normal start rule applies again.
    private func finishResumingAfterRestore() {
        do {
            try RestoreMarker.remove(from: configuration.ledgerDirectory)
            resumingAfterRestore = false
            logger.notice(
                "ingest.restore_marker_removed", metadata: ["ledger.path": "\(configuration.ledgerDirectory)"])
        } catch {
            logger.warning("ingest.restore_marker_not_removed", metadata: ["ingest.error": "\(error)"])
        }
    }

    /// Before partitions go to another consumer: everything consumed is made durable and committed.
    private func partitionsRevoked(_ partitions: [TopicPartition]) throws {
        try makeDurable()
        commitOffsets(force: true)
        committable = committable.filter { !partitions.contains($0.key) }
        for partition in partitions { expectedNext[partition] = nil }
        logger.info(
            "ingest.partitions_revoked",
            metadata: ["kafka.partitions": "\(partitions.sorted().map(\.description).joined(separator: ","))"])
    }

    /// Per-partition events: an offset out of range means data was deleted while it waited to be ingested.
    private func handleEvent(_ error: KafkaError, _ message: KafkaMessageView) throws {
        metrics.brokerError(error.name).increment()
        guard error.isOffsetOutOfRange else {
            logger.warning("ingest.consumer_event", metadata: ["kafka.error": "\(error)"])
            return
        }
        let partition = TopicPartition(topic: message.topic, partition: message.partition)
        let resume = try skipDeletedOffsets(partition, next: try nextOffset(partition) ?? 0)
        var starts: [TopicPartition: Int64] = [:]
        for assigned in consumer.assignment { starts[assigned] = try nextOffset(assigned) ?? kafkaOffsetBeginning }
        starts[partition] = resume
        for (assigned, start) in starts where start >= 0 { expectedNext[assigned] = start }
        try consumer.reassign(starts)
    }

    /// The next offset this ledger needs from `partition`: after what was consumed, or after its watermark, or
    /// where the partition was started.
    private func nextOffset(_ partition: TopicPartition) throws -> Int64? {
        try pending[partition] ?? committable[partition] ?? appender.watermark(partition).map { $0 + 1 }
            ?? expectedNext[partition]
    }

    /// A message arrived past the offset the partition had to deliver next: offsets `first...last` vanished
    /// before they were read (deleted, compacted away, or control records of a transactional producer).
    private func recordVanishedOffsets(
        _ partition: TopicPartition, first: Int64, last: Int64, receivedMicroseconds: Int64
    ) throws {
        try recordLostOffsets(
            partition, first...last, ingestTimeMicroseconds: receivedMicroseconds,
            why: "offsets were never delivered by the partition (deleted or compacted before they were read)")
    }

    /// When the partition no longer holds offset `next` (deleted by retention before it was ingested): stop,
    /// or with --allow-gaps record the missing range as a gap and return the earliest offset still there.
    private func skipDeletedOffsets(_ partition: TopicPartition, next: Int64) throws -> Int64 {
        let low = try consumer.queryWatermarks(partition).low
        guard low > next else { return next }
        try recordLostOffsets(
            partition, next...(low - 1), ingestTimeMicroseconds: Self.nowMicroseconds(),
            why: "offsets were deleted from the partition before they were ingested")
        pending[partition] = low
        try makeDurable()
        return low
    }

    /// Offsets `missing` will never be read: stop (nothing is skipped silently), or with --allow-gaps record them
    /// as one gap record.
    private func recordLostOffsets(
        _ partition: TopicPartition, _ missing: ClosedRange<Int64>, ingestTimeMicroseconds: Int64, why: String
    ) throws {
        metrics.outOfRange.increment()
        logger.error(
            "ingest.offsets_lost",
            metadata: [
                "kafka.partition": "\(partition)", "kafka.missing_from": "\(missing.lowerBound)",
                "kafka.missing_through": "\(missing.upperBound)",
                "kafka.earliest_available": "\(missing.upperBound + 1)",
            ])
        guard configuration.allowGaps else {
            throw IngestError(
                .offsetsLost,
                why + "; restart with --allow-gaps to record the gap and continue from the earliest available offset",
                [("partition", "\(partition)"), ("missing", "\(missing.lowerBound)...\(missing.upperBound)")])
        }
        _ = try appender.appendGap(
            topic: partition.topic, partition: partition.partition, first: missing.lowerBound, last: missing.upperBound,
            ingestTimeMicroseconds: ingestTimeMicroseconds)
    }

    private func reportClientErrors() {
        for error in consumer.takeReportedErrors() + deadLetters.takeReportedErrors() {
            metrics.brokerError(error.name).increment()
            logger.warning("ingest.broker_trouble", metadata: ["kafka.error": "\(error)"])
        }
    }

    private func updateLag() {
        for partition in consumer.assignment {
            guard let marks = consumer.cachedWatermarks(partition),
                let next = (try? appender.watermark(partition)).flatMap({ $0 }).map({ $0 + 1 })
            else { continue }
            metrics.lag(partition).record(max(0, marks.high - next))
        }
    }

    private func recordBytesWritten() {
        let total = appender.bytesWritten
        if total > bytesDurable { metrics.bytesWritten.increment(by: total - bytesDurable) }
        bytesDurable = total
    }

    static func nowMicroseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }
}
