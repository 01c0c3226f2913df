import Foundation
import Ledger
import LedgerTesting
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
        #expect(ingest.stop() == 0)
        let restored = try ProductRun(
            "ledger-tool",
            ["restore", "--from", archive.url, "--wal", scratch.file("restored")], environment: environment)
        #expect(restored.status == 0, "\(restored.errors)")
        #expect(try LedgerMaintenance.verify(directory: scratch.file("restored")).isConsistent)
        #expect(
            try ledgerEntries(scratch.file("restored"))
                == Array(try ledgerEntries(ledger).prefix(Int(sealed.last!.lastLSN))))
    }
}
