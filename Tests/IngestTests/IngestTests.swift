import Foundation
import Ingest
import KafkaClient
import Ledger
import LedgerTesting
import MessageSchema
import Testing

/// ledger-ingest against the development broker over TCP, as separate processes.
@Suite(.serialized) struct IngestTests {
    /// Invariants 1-3 under kill -9: each produced offset is in the ledger exactly once, the committed offsets
    /// reach the end offsets, and every refused message is both in the ledger and on the dead-letter topic.
    @Test func crashSafetyUnderRepeatedKillNine() throws {
        let scratch = ScratchDirectory()
        let broker = try DevBroker(partitions: 8)
        let stream = try produce(broker.bootstrap, count: 50_000, seed: 11)
        let ledger = scratch.path + "/ledger"
        var random = SplitMix64.announced(for: "crashSafetyUnderRepeatedKillNine")
        var kills = 0
        while kills < 20 {
            let ingest = try startIngest(
                brokers: broker.bootstrap, ledger: ledger, logPath: scratch.path + "/ingest.log")
            Thread.sleep(forTimeInterval: 0.5 + Double(random.next(below: 4500)) / 1000)
            ingest.kill9()
            kills += 1
        }
        let ends = try endOffsets(broker.bootstrap, partitions: 8)
        #expect(ends.values.reduce(0, +) == Int64(stream.count))
        let final = try startIngest(brokers: broker.bootstrap, ledger: ledger, logPath: scratch.path + "/ingest.log")
        try waitUntilCaughtUp([ledger], ends: ends, timeoutSeconds: 120)
        // The ledger can be complete before this instance starts (a killed one ingested everything): then only
        // this one, once it has joined the group, commits the offsets the killed ones did not, and a stop sent
        // at once reached it before it had even installed its signal handler (exit by SIGTERM, seen with seed
        // 4523922449071698802).
        let group = try observer(broker.bootstrap, group: "ledger-ingest")
        #expect(eventually(seconds: 60) { try group.committedOffsets(Array(ends.keys)) == ends })
        #expect(final.stop() == 0)
        let entries = try ledgerEntries(ledger)
        expectEachOffsetOnce(entries, ends: ends)
        #expect(ends.values.allSatisfy { $0 > 0 }, "every partition got messages")
        let committed = try observer(broker.bootstrap, group: "ledger-ingest").committedOffsets(Array(ends.keys))
        #expect(committed == ends, "committed offsets reach the end offsets")
        let refused = entries.filter { $0.record.kind == .rejected || $0.record.kind == .conflict }
        #expect(
            refused.count == stream.intents.filter { if case .invalid = $0 { true } else { false } }.count
                + entries.filter { $0.record.kind == .conflict }.count)
        let letters = try deadLetters(broker.bootstrap, expectedAtLeast: refused.count)
        let missing = refused.filter { letters["\($0.record.source.partition)@\($0.record.source.offset)"] == nil }
        #expect(missing.isEmpty, "\(missing.count) refused messages are not on the dead-letter topic")
        #expect(try LedgerMaintenance.verify(directory: ledger).isConsistent)
    }

    /// Request errors and a broker down for a while: ingest retries, loses nothing, doubles nothing, and says so.
    @Test func brokerTroubleIsRiddenOut() throws {
        let scratch = ScratchDirectory()
        let broker = try DevBroker(partitions: 4, brokers: 3)
        // Broker 2 must lead a partition: the client connects only to the brokers it needs, so taking down a
        // broker that leads nothing (the mock cluster places leaders at random) would go unnoticed.
        try broker.command("leader transactions 0 2")
        _ = try produce(broker.bootstrap, count: 10_000, seed: 12)
        let ledger = scratch.path + "/ledger"
        let port = 19_400 + Int(getpid() % 500)
        let ingest = try startIngest(
            brokers: broker.bootstrap, ledger: ledger, metricsPort: port, extra: ["--log-format", "json"],
            logPath: scratch.path + "/ingest.log")
        Thread.sleep(forTimeInterval: 4)
        try broker.command("errors 1 NOT_LEADER_FOR_PARTITION 30")  // Fetch
        try broker.command("errors 8 COORDINATOR_NOT_AVAILABLE 5")  // OffsetCommit
        try broker.command("down 2")
        let bootstrap = broker.bootstrap
        let produced = DispatchSemaphore(value: 0)
        Thread {
            _ = try? produce(bootstrap, count: 10_000, seed: 13)
            produced.signal()
        }.start()
        Thread.sleep(forTimeInterval: 3)
        try broker.command("up 2")
        produced.wait()
        let ends = try endOffsets(broker.bootstrap, partitions: 4)
        try waitUntilCaughtUp([ledger], ends: ends, timeoutSeconds: 120)
        let metrics = try String(contentsOf: URL(string: "http://127.0.0.1:\(port)/metrics")!, encoding: .utf8)
        #expect(ingest.stop() == 0)
        expectEachOffsetOnce(try ledgerEntries(ledger), ends: ends)
        let troubleCounted = metrics.split(separator: "\n").contains { line in
            (line.hasPrefix("ingest_broker_errors_total") || line.hasPrefix("ingest_offset_commit_failures_total"))
                && !line.hasSuffix(" 0")
        }
        #expect(troubleCounted, "broker trouble shows in the metrics")
        #expect(MetricsText.familiesWithoutHelp(metrics).isEmpty, "every metric has # HELP")
        #expect(metrics.contains("pulse_ledger_build_info{service=\"ledger-ingest\""))
        // The fsync histogram resolves sub-millisecond fsyncs (the library's default buckets start at 5 ms).
        let fsyncBuckets = metrics.split(separator: "\n").filter { $0.hasPrefix("ingest_fsync_seconds_bucket") }
            .compactMap { $0.split(separator: "\"").dropFirst().first.flatMap { Double($0) } }
        let disk = Dictionary(
            metrics.split(separator: "\n").compactMap { line -> (String, Double)? in
                let parts = line.split(separator: " ")
                guard parts.count == 2, parts[0].hasPrefix("ingest_ledger_disk_"), let value = Double(parts[1]) else {
                    return nil
                }
                return (String(parts[0]), value)
            }, uniquingKeysWith: { $1 })
        #expect(
            (disk["ingest_ledger_disk_free_bytes"] ?? 0) > 0
                && (disk["ingest_ledger_disk_free_bytes"] ?? 0) <= (disk["ingest_ledger_disk_size_bytes"] ?? 0),
            "the ledger's free disk space is watched: \(disk)")
        #expect(fsyncBuckets.count >= 15 && (fsyncBuckets.min() ?? 1) <= 0.000_05, "fsync buckets: \(fsyncBuckets)")
        #expect(
            ingest.log.contains("ingest.broker_trouble") || ingest.log.contains("ingest.offset_commit_failed")
                || ingest.log.contains("kafka.client.log"))
    }

    /// A second consumer joins the group mid-stream and leaves again: partitions move between two ledgers and
    /// back; no offset is lost, and none is recorded twice within a ledger. Across the two ledgers an offset can
    /// appear twice: the mock broker refuses offset commits during a rebalance (REBALANCE_IN_PROGRESS), so the new
    /// owner may start before the old owner's last durable offsets. The projector deduplicates on source
    /// coordinates across ledgers (DESIGN.md, "Scaling out").
    @Test func rebalanceLosesAndDoublesNothing() throws {
        let scratch = ScratchDirectory()
        let broker = try DevBroker(partitions: 6)
        _ = try produce(broker.bootstrap, count: 15_000, seed: 14)
        let first = scratch.path + "/first"
        let second = scratch.path + "/second"
        let a = try startIngest(brokers: broker.bootstrap, ledger: first, logPath: scratch.path + "/a.log")
        Thread.sleep(forTimeInterval: 4)
        let bootstrap = broker.bootstrap
        let producing = Thread { _ = try? produce(bootstrap, count: 15_000, seed: 15) }
        producing.start()
        let b = try startIngest(brokers: broker.bootstrap, ledger: second, logPath: scratch.path + "/b.log")
        let joinDeadline = Date().addingTimeInterval(40)
        while !b.log.contains("ingest.partitions_assigned") && Date() < joinDeadline {
            Thread.sleep(forTimeInterval: 0.2)
        }
        Thread.sleep(forTimeInterval: 2)
        #expect(b.stop() == 0)
        Thread.sleep(forTimeInterval: 2)
        let ends = try endOffsets(broker.bootstrap, partitions: 6)
        try waitUntilCaughtUp([first, second], ends: ends, timeoutSeconds: 120)
        #expect(a.stop() == 0)
        #expect(ends.values.reduce(0, +) == 30_000)
        let firstEntries = try ledgerEntries(first)
        let secondEntries =
            FileManager.default.fileExists(atPath: second + "/index.sqlite") ? try ledgerEntries(second) : []
        #expect(offsetsRecordedTwice(firstEntries) == 0)
        #expect(offsetsRecordedTwice(secondEntries) == 0)
        #expect(!secondEntries.isEmpty)
        let covered = Set(
            (firstEntries + secondEntries).map { "\($0.record.source.partition)@\($0.record.source.offset)" })
        #expect(covered.count == 30_000, "every offset is in one of the ledgers")
        #expect(b.log.contains("ingest.partitions_assigned"), "the second consumer took part")
    }

    /// Every rejection reason reaches the dead-letter topic with its headers; oversized, invalid UTF-8, empty and
    /// null values are handled without a crash.
    @Test func badInputGoesToTheDeadLetterTopic() throws {
        let scratch = ScratchDirectory()
        let broker = try DevBroker(partitions: 1)
        let producer = try KafkaProducer(
            properties: ["bootstrap.servers": broker.bootstrap, "message.max.bytes": "4000000"], logger: quietLogger)
        let valid =
            #"{"order_id": "6f1c9a0e-8a8b-4c3e-9a57-6f2d1b0c9e11", "amount": 150.99, "currency": "USD", "timestamp": "2024-01-15T10:30:00Z", "customer_id": "cust_1", "product_category": "books"}"#
        let cases: [(value: [UInt8]?, reason: String, field: String)] = [
            (nil, "value_null", ""), ([], "value_empty", ""),
            ([UInt8](repeating: 0x20, count: 2 << 20), "message_too_large", ""),
            ([0x7B, 0xC3, 0x28, 0x7D], "invalid_utf8", ""),
            (Array("{".utf8), "invalid_json", ""), (Array("[1]".utf8), "not_an_object", ""),
            (
                Array(valid.replacingOccurrences(of: "\"books\"}", with: "\"books\", \"amount\": 1}").utf8),
                "duplicate_key", "amount"
            ),
            (Array(valid.replacingOccurrences(of: "}", with: ", \"coupon\": 1}").utf8), "unknown_field", "coupon"),
            (
                Array(valid.replacingOccurrences(of: ", \"currency\": \"USD\"", with: "").utf8), "missing_field",
                "currency"
            ),
            (Array(valid.replacingOccurrences(of: "150.99", with: "\"150.99\"").utf8), "wrong_type", "amount"),
            (Array(valid.replacingOccurrences(of: "6f1c9a0e", with: "6f1c9a0g").utf8), "invalid_order_id", "order_id"),
            (Array(valid.replacingOccurrences(of: "150.99", with: "1.5e2").utf8), "invalid_amount", "amount"),
            (Array(valid.replacingOccurrences(of: "150.99", with: "0.00").utf8), "amount_not_positive", "amount"),
            (Array(valid.replacingOccurrences(of: "150.99", with: "150.999").utf8), "amount_too_precise", "amount"),
            (
                Array(valid.replacingOccurrences(of: "150.99", with: "10000000000.00").utf8), "amount_too_large",
                "amount"
            ),
            (Array(valid.replacingOccurrences(of: "USD", with: "XYZ").utf8), "unknown_currency", "currency"),
            (
                Array(valid.replacingOccurrences(of: "2024-01-15", with: "2023-02-29").utf8), "invalid_timestamp",
                "timestamp"
            ),
            (
                Array(valid.replacingOccurrences(of: "10:30:00Z", with: "10:30:00").utf8), "timestamp_without_zone",
                "timestamp"
            ),
            (Array(valid.replacingOccurrences(of: "cust_1", with: "").utf8), "empty_field", "customer_id"),
            (
                Array(valid.replacingOccurrences(of: "books", with: String(repeating: "b", count: 51)).utf8),
                "field_too_long", "product_category"
            ),
            (Array(valid.utf8), "", ""),
            (Array(valid.replacingOccurrences(of: "cust_1", with: "cust_2").utf8), "conflicting_duplicate", "order_id"),
        ]
        for item in cases { try producer.produce(topic: "transactions", partition: 0, key: nil, value: item.value) }
        try producer.flush(timeoutMilliseconds: 30_000)
        let ledger = scratch.path + "/ledger"
        let ingest = try startIngest(brokers: broker.bootstrap, ledger: ledger, logPath: scratch.path + "/ingest.log")
        do {
            try waitUntilCaughtUp(
                [ledger], ends: [TopicPartition(topic: "transactions", partition: 0): Int64(cases.count)],
                timeoutSeconds: 60)
        } catch {
            Issue.record("ingest log:\n\(ingest.log.prefix(6000))")
            throw error
        }
        #expect(ingest.stop() == 0)
        let letters = try deadLetters(broker.bootstrap, expectedAtLeast: cases.count - 1)
        for (offset, item) in cases.enumerated() where !item.reason.isEmpty {
            let headers = letters["0@\(offset)"]
            #expect(headers?["reason"] == item.reason, "offset \(offset)")
            #expect(headers?["field"] == item.field, "offset \(offset) \(item.reason)")
            #expect(
                headers?["source.topic"] == "transactions"
                    && headers?["validator.version"] == String(MessageValidator.version))
        }
        #expect(letters.count == cases.count - 1)
        let kinds = try ledgerEntries(ledger).map(\.record.kind)
        #expect(
            kinds.filter { $0 == .rejected }.count == cases.count - 2 && kinds.contains(.conflict)
                && kinds.contains(.accepted))
    }

    /// A backlog fills librdkafka's prefetch queue; once it is drained, ingest gives that memory back to the
    /// operating system (issue 12: without it, resident memory stayed at 0.84 of the catch-up peak for good).
    @Test func memoryIsGivenBackAfterABacklog() throws {
        let scratch = ScratchDirectory()
        // 24 partitions: the development broker keeps ~5 MiB each, and 300,000 messages are ~60 MiB.
        let broker = try DevBroker(partitions: 24)
        _ = try produce(broker.bootstrap, count: 300_000, seed: 12)
        let ledger = scratch.path + "/ledger"
        let ingest = try startIngest(brokers: broker.bootstrap, ledger: ledger, logPath: scratch.path + "/ingest.log")
        defer { _ = ingest.stop() }
        try waitUntilCaughtUp(
            [ledger], ends: try endOffsets(broker.bootstrap, partitions: 24), timeoutSeconds: 180)
        func kibibytes(_ field: String) throws -> Int {
            let status = try String(contentsOfFile: "/proc/\(ingest.process.processIdentifier)/status", encoding: .utf8)
            let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        let peak = try kibibytes("VmHWM")
        let deadline = Date().addingTimeInterval(20)
        var resident = try kibibytes("VmRSS")
        while resident * 10 > peak * 6 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.5)
            resident = try kibibytes("VmRSS")
        }
        print("ingest after a backlog of 300,000 messages: \(resident / 1024) MiB resident, peak \(peak / 1024) MiB")
        #expect(resident * 10 <= peak * 6, "\(resident) KiB resident of a \(peak) KiB peak")
    }

    /// An fsync failure stops the process, and the committed offsets never pass the last successful fsync.
    @Test func fsyncFailureStopsWithoutCommitting() throws {
        let scratch = ScratchDirectory()
        let broker = try DevBroker(partitions: 2)
        _ = try produce(broker.bootstrap, count: 5_000, seed: 16)
        let ledger = scratch.path + "/ledger"
        let ingest = try startIngest(
            brokers: broker.bootstrap, ledger: ledger, extra: ["--inject-fault", "fsync=2"],
            logPath: scratch.path + "/ingest.log")
        Thread.sleep(forTimeInterval: 4)
        _ = try produce(broker.bootstrap, count: 5_000, seed: 17)
        let status = ingest.waitForExit(timeoutSeconds: 60)
        #expect(status != nil && status != 0, "the process stops with an error")
        #expect(ingest.log.contains("fsync"))
        let partitions = (0..<2).map { TopicPartition(topic: "transactions", partition: Int32($0)) }
        let committed = try observer(broker.bootstrap, group: "ledger-ingest").committedOffsets(partitions)
        let durable = try LedgerReader(directory: ledger).watermarks()
        for partition in partitions {
            let committedOffset = committed[partition] ?? -1
            let durableNext = (durable[partition]?.offset).map { $0 + 1 } ?? 0
            #expect(
                committedOffset <= durableNext,
                "\(partition): committed \(committedOffset) passes durable \(durableNext)")
        }
        // After the fault, a restart resumes at the durable watermark and finishes the job.
        let ends = try endOffsets(broker.bootstrap, partitions: 2)
        let restarted = try startIngest(
            brokers: broker.bootstrap, ledger: ledger, logPath: scratch.path + "/ingest.log")
        try waitUntilCaughtUp([ledger], ends: ends, timeoutSeconds: 60)
        #expect(restarted.stop() == 0)
        expectEachOffsetOnce(try ledgerEntries(ledger), ends: ends)
    }
}

/// Offsets deleted by retention before they were ingested: stop loudly by default; with --allow-gaps, record the
/// gap in the ledger and go on from the earliest offset still there.
/// `dev-broker --port P`: the bootstrap address is fixed, and clients reach the cluster through it.
@Suite struct DevBrokerPortTests {
    @Test func aFixedBootstrapPortServesProducersAndConsumers() throws {
        let port = try freePort()
        let broker = try DevBroker(partitions: 2, port: port)
        #expect(broker.bootstrap == "127.0.0.1:\(port)")
        _ = try produce(broker.bootstrap, count: 200, seed: 3, partitions: 2)
        let ends = try endOffsets(broker.bootstrap, partitions: 2)
        #expect(ends.values.reduce(0, +) == 200)
    }
}

@Suite(.serialized) struct RetentionGapTests {
    @Test func deletedOffsetsStopIngestUnlessGapsAreAllowed() throws {
        let scratch = ScratchDirectory()
        let broker = try DevBroker(partitions: 1)
        let ledger = scratch.path + "/ledger"
        _ = try produce(broker.bootstrap, count: 1_000, seed: 21, invalidRatio: 0, duplicateRatio: 0)
        let partition = TopicPartition(topic: "transactions", partition: 0)
        let first = try startIngest(brokers: broker.bootstrap, ledger: ledger, logPath: scratch.path + "/ingest.log")
        try waitUntilCaughtUp([ledger], ends: [partition: 1_000], timeoutSeconds: 60)
        #expect(first.stop() == 0)
        // The dev broker keeps about 5 MiB per partition: 40k more messages push offset 1000 out.
        _ = try produce(broker.bootstrap, count: 40_000, seed: 22, invalidRatio: 0, duplicateRatio: 0)
        let low = try observer(broker.bootstrap, group: "gap-observer").queryWatermarks(partition).low
        try #require(low > 1_000, "the broker dropped the oldest data (log start \(low))")

        let entries = try refusedThenRecordedAsAGap(
            broker: broker, ledger: ledger, durableLSN: 1_000, end: 41_000, scratch: scratch)
        let gaps = entries.filter { $0.record.kind == .gap }
        #expect(gaps.count == 1)
        if case .gap(let last) = gaps.first?.record.body {
            #expect(gaps.first?.record.source.offset == 1_000 && last == low - 1)
        }
        #expect(entries.count == 1_000 + 1 + Int(41_000 - low))
        #expect(offsetsRecordedTwice(entries) == 0)
    }
}

extension RetentionGapTests {
    /// What both tests expect once partition 0's offsets from the ledger's next one on were deleted: ingest stops
    /// with offsets_lost (naming --allow-gaps) and leaves the ledger at `durableLSN`; with --allow-gaps it records
    /// the gap and catches up to `end`. Returns the ledger's entries then.
    func refusedThenRecordedAsAGap(
        broker: DevBroker, ledger: String, durableLSN: UInt64, end: Int64, scratch: ScratchDirectory
    ) throws -> [LedgerEntry] {
        let refused = try startIngest(brokers: broker.bootstrap, ledger: ledger, logPath: scratch.path + "/refused.log")
        let status = refused.waitForExit(timeoutSeconds: 60)
        #expect(status != nil && status != 0, "ingest stops instead of skipping deleted offsets")
        #expect(refused.log.contains("ingest.offsets_lost") && refused.log.contains("--allow-gaps"))
        #expect(try LedgerReader(directory: ledger).durableLSN() == durableLSN)

        let allowed = try startIngest(
            brokers: broker.bootstrap, ledger: ledger, extra: ["--allow-gaps"], logPath: scratch.path + "/allowed.log")
        try waitUntilCaughtUp(
            [ledger], ends: [TopicPartition(topic: "transactions", partition: 0): end], timeoutSeconds: 90)
        #expect(allowed.stop() == 0)
        return try ledgerEntries(ledger)
    }

    /// Issue 11: a ledger that first saw a partition after retention had dropped its oldest offsets started at the
    /// earliest offset still there, silently (the demo once recorded 95,032 of 100,000 messages and waited). A
    /// partition is now read from offset 0: ingest stops, or with --allow-gaps records the gap first.
    @Test func aNewPartitionWhoseOldestOffsetsAreGoneIsNotSkipped() throws {
        let scratch = ScratchDirectory()
        let broker = try DevBroker(partitions: 1)
        let ledger = scratch.path + "/ledger"
        let partition = TopicPartition(topic: "transactions", partition: 0)
        _ = try produce(broker.bootstrap, count: 40_000, seed: 23, invalidRatio: 0, duplicateRatio: 0)
        let low = try observer(broker.bootstrap, group: "gap-observer").queryWatermarks(partition).low
        try #require(low > 0, "the broker dropped the oldest data before ingest ever ran (log start \(low))")

        let entries = try refusedThenRecordedAsAGap(
            broker: broker, ledger: ledger, durableLSN: 0, end: 40_000, scratch: scratch)
        #expect(
            entries.first?.record.body == .gap(lastMissingOffset: low - 1) && entries.first?.record.source.offset == 0)
        #expect(entries.count == 1 + Int(40_000 - low))
        #expect(entries.dropFirst().map(\.record.source.offset) == Array(low..<40_000))
    }
}

/// `ledger-tool dlq replay`: a message an older validator refused is re-validated, produced again, ingested as
/// accepted; replaying it a second time records a duplicate, never a second transaction.
@Suite(.serialized) struct DeadLetterReplayTests {
    @Test func replayAfterAFixAddsEachOrderOnce() throws {
        let scratch = ScratchDirectory()
        let broker = try DevBroker(partitions: 1)
        let ledger = scratch.path + "/ledger"
        let valid = Array(
            #"{"order_id": "0b7e1a52-4c1e-4b8a-9d9a-1f0e2d3c4b5a", "amount": 12.50, "currency": "USD", "timestamp": "2024-01-15T10:30:00Z", "customer_id": "cust_7", "product_category": "books"}"#
                .utf8)
        do {
            // As if an older validator had refused it: a rejected record holding a message valid today.
            let writer = try LedgerWriter(directory: ledger)
            let rejected = RejectedMessage(
                rejection: Rejection(.unknownCurrency, field: "currency"), rawBytes: valid,
                originalByteCount: valid.count)
            try writer.append(
                Record(
                    source: SourceCoordinates(topic: "transactions-2023", partition: 0, offset: 0),
                    ingestTimeMicroseconds: 0, body: .rejected(rejected)))
            try writer.commit()
        }
        for round in 1...2 {
            let replay = Process()
            replay.executableURL = URL(fileURLWithPath: productsDirectory + "/ledger-tool")
            replay.arguments = [
                "dlq", "replay", "--wal", ledger, "--brokers", broker.bootstrap, "--reason", "unknown_currency",
            ]
            replay.standardOutput = FileHandle.nullDevice
            try replay.run()
            replay.waitUntilExit()
            #expect(replay.terminationStatus == 0, "replay round \(round)")
        }
        _ = try produce(broker.bootstrap, count: 1, seed: 31, invalidRatio: 0, duplicateRatio: 0)
        let ingest = try startIngest(brokers: broker.bootstrap, ledger: ledger, logPath: scratch.path + "/ingest.log")
        try waitUntilCaughtUp(
            [ledger], ends: [TopicPartition(topic: "transactions", partition: 0): 3], timeoutSeconds: 60)
        #expect(ingest.stop() == 0)
        let kinds = try ledgerEntries(ledger).filter { $0.record.transaction?.customerID == "cust_7" }.map(
            \.record.kind)
        #expect(kinds == [.accepted, .duplicate])
    }
}

/// Issue 11: a frame used to reach the segment file mid-batch, before the dead-letter producer was flushed. When
/// the flush then failed (the topic unavailable past the delivery timeout) or the process was killed, the next
/// open published the frame, its offsets counted as recorded, and their dead letters were never produced.
@Suite(.serialized) struct DeadLetterDurabilityTests {
    @Test func deadLettersAreNeverLostWhenTheirFlushFails() throws {
        let scratch = ScratchDirectory()
        let broker = try DevBroker(partitions: 1)
        // 200 rejections of 20 KiB each, kept whole: a frame (1 MiB raw) fills after ~50 of them. They go in one
        // producer batch and come back in one fetch, so the first batch holds all 200 and frames reach the file
        // mid-batch. 4 MiB in all: within what the dev broker keeps of a partition.
        let big = ["message.max.bytes": "8388608", "batch.size": "8388608", "linger.ms": "500"]
        let producer = try KafkaProducer(
            properties: ["bootstrap.servers": broker.bootstrap, "acks": "all"].merging(big) { $1 }, logger: quietLogger)
        for number in 0..<200 {
            try producer.produce(
                topic: "transactions", partition: 0, key: nil,
                value: Array(("{\"n\": \(number), " + String(repeating: "x", count: 20_480)).utf8))
        }
        try producer.flush(timeoutMilliseconds: 60_000)
        let partition = TopicPartition(topic: "transactions", partition: 0)
        let ledger = scratch.path + "/ledger"
        // Produce requests fail from now on: dead letters time out after 2 s instead of 30.
        try broker.command("errors 0 NOT_ENOUGH_REPLICAS 1000000")
        // One fetch brings the whole partition.
        let failing = try startIngest(
            brokers: broker.bootstrap, ledger: ledger,
            extra: [
                "-X", "message.timeout.ms=2000", "-X", "max.partition.fetch.bytes=8388608", "-X",
                "fetch.max.bytes=8388608",
            ],
            logPath: scratch.path + "/failing.log")
        let status = failing.waitForExit(timeoutSeconds: 60)
        #expect(
            status != nil && status != 0,
            "ingest stops when dead letters cannot be delivered: \(failing.log.suffix(1500))")
        try broker.command("clear 0")
        let healthy = try startIngest(brokers: broker.bootstrap, ledger: ledger, logPath: scratch.path + "/healthy.log")
        try waitUntilCaughtUp([ledger], ends: [partition: 200], timeoutSeconds: 90)
        #expect(healthy.stop() == 0)
        let entries = try ledgerEntries(ledger)
        expectEachOffsetOnce(entries, ends: [partition: 200])
        let owed = entries.filter { $0.record.kind == .rejected || $0.record.kind == .conflict }.map {
            "0@\($0.record.source.offset)"
        }
        #expect(owed.count == 200)
        let letters = try deadLetters(broker.bootstrap, expectedAtLeast: owed.count)
        let missing = owed.filter { letters[$0] == nil }
        #expect(missing.count == 0, "rejections without a dead letter, first \(missing.prefix(5))")
    }
}
