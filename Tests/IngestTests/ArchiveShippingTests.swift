import Foundation
import Ledger
import LedgerTesting
import MessageSchema
import Testing

/// Issue 14: ledger-ingest `--archive-to` ships each sealed segment while it runs, its lag metrics fall to zero,
/// and a ledger restored from that archive verifies and holds what was archived. Real broker, real process.
@Suite struct ArchiveShippingTests {
    @Test(arguments: ArchiveKind.allCases) func ingestShipsSealedSegmentsAndTheArchiveRestores(_ kind: ArchiveKind)
        throws
    {
        let scratch = ScratchDirectory()
        let archive = try TestArchive(kind)
        let environment = try archive.environment()
        let broker = try DevBroker(partitions: 2)
        _ = try produce(broker.bootstrap, count: 2_000, seed: 12, partitions: 2)
        let ends = try endOffsets(broker.bootstrap, partitions: 2)
        let ledger = scratch.file("ledger")
        let port = try freePort()
        let ingest = try startIngest(
            brokers: broker.bootstrap, ledger: ledger, metricsPort: port,
            extra: [
                "--archive-to", archive.url, "--segment-bytes", "16384", "--archive-interval-seconds", "1",
                "--archive-tail-seconds", "0",
            ], logPath: scratch.file("ingest.log"), environment: environment)
        defer { _ = ingest.stop() }
        try waitUntilCaughtUp([ledger], ends: ends, timeoutSeconds: 60)
        let sealed = try LedgerReader(directory: ledger).segments().filter(\.sealed)
        #expect(!sealed.isEmpty)  // a segment seals at the commit that takes it past --segment-bytes
        var metrics = ""
        #expect(
            eventually(seconds: 30) {
                metrics = try String(contentsOf: URL(string: "http://127.0.0.1:\(port)/metrics")!, encoding: .utf8)
                return metrics.contains("ingest_archived_through_lsn \(sealed.last!.lastLSN)")
                    && metrics.contains("ingest_archive_lag_bytes 0")
            }, "\(metrics)")
        // Then a few more messages, which stay in the open segment (not archived) while the group commits them.
        _ = try produce(broker.bootstrap, count: 100, seed: 14, partitions: 2)
        try waitUntilCaughtUp([ledger], ends: try endOffsets(broker.bootstrap, partitions: 2), timeoutSeconds: 60)
        #expect(ingest.stop() == 0)
        let restored = try ProductRun(
            "ledger-tool",
            ["restore", "--from", archive.url, "--wal", scratch.file("restored")], environment: environment)
        #expect(restored.status == 0, "\(restored.errors)")
        #expect(try LedgerMaintenance.verify(directory: scratch.file("restored")).isConsistent)
        #expect(
            try ledgerEntries(scratch.file("restored"))
                == Array(try ledgerEntries(ledger).prefix(Int(sealed.last!.lastLSN))))
        // The archive lacks the open segment: the resumed ingest must read that part again from Kafka.
        #expect(sealed.last!.lastLSN < UInt64(try ledgerEntries(ledger).count))
        try resumeOnTheRestoredLedger(scratch, broker: broker, original: ledger)
    }

    /// The disk died: ledger-ingest on the restored ledger, in the same consumer group (whose committed offsets
    /// are past the restored watermarks), reads again from Kafka what the archive lacked. Every offset is then in
    /// the ledger exactly once, and the same orders are accepted as in the original ledger.
    private func resumeOnTheRestoredLedger(
        _ scratch: ScratchDirectory, broker: DevBroker, original: String
    ) throws {
        let restored = scratch.file("restored")
        #expect(RestoreMarker.exists(in: restored))
        // More messages after the disk died, so that the resumed ingest has new work besides what it re-reads.
        _ = try produce(broker.bootstrap, count: 300, seed: 13, partitions: 2)
        let ends = try endOffsets(broker.bootstrap, partitions: 2)
        let ingest = try startIngest(
            brokers: broker.bootstrap, ledger: restored, metricsPort: try freePort(),
            logPath: scratch.file("resumed.log"))
        defer { _ = ingest.stop() }
        try waitUntilCaughtUp([restored], ends: ends, timeoutSeconds: 60)
        #expect(
            ingest.stop() == 0, "\((try? String(contentsOfFile: scratch.file("resumed.log"), encoding: .utf8)) ?? "")")
        #expect(!RestoreMarker.exists(in: restored), "removed once the group's offsets agree with the ledger")
        let offsets = { (directory: String) in
            try ledgerEntries(directory).map { "\($0.record.source.partition)/\($0.record.source.offset)" }
        }
        let accepted = { (directory: String) in
            Set(
                try ledgerEntries(directory).compactMap {
                    $0.record.kind == .accepted ? $0.record.transaction?.orderID : nil
                })
        }
        let resumed = try offsets(restored)
        let everyOffset = ends.flatMap { end in (0..<end.value).map { "\(end.key.partition)/\($0)" } }
        #expect(resumed.count == Set(resumed).count, "an offset recorded twice")
        let missing = Set(everyOffset).subtracting(resumed).sorted().prefix(10)
        let extra = Set(resumed).subtracting(everyOffset).sorted().prefix(10)
        #expect(missing.isEmpty && extra.isEmpty, "lost \(missing), not produced \(extra)")
        // The orders the original accepted are accepted again, and the new messages add theirs.
        #expect(try accepted(original).subtracting(accepted(restored)).isEmpty)
        #expect(try LedgerMaintenance.verify(directory: restored).isConsistent)
    }

    /// `--archive-tail-seconds`: the open segment's acknowledged records reach the archive within about that long,
    /// though no segment seals; a ledger restored from the archive then holds every one of them.
    @Test func theOpenSegmentReachesTheArchiveWithinTheTailInterval() throws {
        let scratch = ScratchDirectory()
        let archive = try TestArchive(.s3)
        let (broker, ends) = try brokerWith(1_000, seed: 15, partitions: 2)
        let ledger = scratch.file("ledger")
        let ingest = try archivingIngest(
            ledger, to: archive, tailSeconds: 2, logPath: scratch.file("ingest.log"), broker)
        defer { _ = ingest.stop() }
        try waitUntilCaughtUp([ledger], ends: ends, timeoutSeconds: 60)
        let caughtUp = Date()
        let durable = UInt64(try ledgerEntries(ledger).count)
        #expect(try LedgerReader(directory: ledger).segments().allSatisfy { !$0.sealed }, "nothing sealed")
        var restored: UInt64 = 0
        var attempt = 0
        let shipped = eventually(seconds: 10) {
            attempt += 1
            let target = scratch.file("restored-\(attempt)")
            let id = try LedgerReader(directory: ledger).ledgerID
            restored = (try? LedgerArchive.restore(from: archive.target, ledgerID: id, to: target))?.durableLSN ?? 0
            return restored == durable
        }
        let window = Date().timeIntervalSince(caughtUp)
        #expect(shipped && window <= 2 + 1 + 2, "restored \(restored) of \(durable) after \(window) s")
        #expect(try ledgerEntries(scratch.file("restored-\(attempt)")) == ledgerEntries(ledger))
    }

    /// A ledger restored from an archive must re-read every partition from its own watermark: beside another
    /// instance of the group, which would start the partitions it gets at the group's offsets (counting what the
    /// lost ledger held) and skip it, ledger-ingest refuses to run, saying what to do.
    @Test func aRestoredLedgerRefusesToRunBesideAnotherInstance() throws {
        let scratch = ScratchDirectory()
        let archive = try TestArchive(.file)
        let (broker, ends) = try brokerWith(1_000, seed: 16, partitions: 4)
        let lost = scratch.file("lost")
        let first = try archivingIngest(lost, to: archive, tailSeconds: 1, logPath: scratch.file("lost.log"), broker)
        try waitUntilCaughtUp([lost], ends: ends, timeoutSeconds: 60)
        var probes = 0
        #expect(
            eventually(seconds: 20) {
                probes += 1
                let id = try LedgerReader(directory: lost).ledgerID
                let probe = scratch.file("probe-\(probes)")
                return ((try? LedgerArchive.restore(from: archive.target, ledgerID: id, to: probe))?.durableLSN ?? 0)
                    > 0
            })
        #expect(first.stop() == 0)
        let other = try startIngest(
            brokers: broker.bootstrap, ledger: scratch.file("other"), metricsPort: try freePort(),
            logPath: scratch.file("other.log"))
        defer { _ = other.stop() }
        #expect(eventually(seconds: 30) { other.log.contains("ingest.partitions_assigned") })
        let id = try #require(try LedgerArchive.ledgers(in: archive.target).first)
        let restored = scratch.file("restored")
        _ = try LedgerArchive.restore(from: archive.target, ledgerID: id, to: restored)
        let resumed = try startIngest(
            brokers: broker.bootstrap, ledger: restored, metricsPort: try freePort(),
            logPath: scratch.file("restored.log"))
        let status = resumed.waitForExit(timeoutSeconds: 60, killingOnTimeout: true)
        #expect(status != nil && status != 0, "\(resumed.log.suffix(600))")
        #expect(resumed.log.contains("restore_needs_whole_group"), "\(resumed.log.suffix(600))")
        #expect(RestoreMarker.exists(in: restored), "kept until the group agrees with the ledger")
    }

    /// A development broker holding `count` generated messages over `partitions`, and their end offsets.
    private func brokerWith(_ count: Int, seed: UInt64, partitions: Int) throws -> (DevBroker, [TopicPartition: Int64])
    {
        let broker = try DevBroker(partitions: partitions)
        _ = try produce(broker.bootstrap, count: count, seed: seed, partitions: partitions)
        return (broker, try endOffsets(broker.bootstrap, partitions: partitions))
    }

    /// ledger-ingest on `ledger`, archiving every second and shipping the open segment every `tailSeconds`.
    private func archivingIngest(
        _ ledger: String, to archive: TestArchive, tailSeconds: Int, logPath: String, _ broker: DevBroker
    ) throws -> ChildProcess {
        try startIngest(
            brokers: broker.bootstrap, ledger: ledger, metricsPort: try freePort(),
            extra: [
                "--archive-to", archive.url, "--archive-interval-seconds", "1", "--archive-tail-seconds",
                "\(tailSeconds)",
            ], logPath: logPath, environment: try archive.environment())
    }
}
