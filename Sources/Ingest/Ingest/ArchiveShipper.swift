import Foundation
import Ledger
import Logging
import Metrics

/// Ships sealed segments to the archive while ledger-ingest runs (`--archive-to`, issue 14): every
/// `IngestLimits.archiveIntervalSeconds` on its own queue (checking the archived objects' sizes, and reading them
/// all back at start and every `IngestLimits.archiveReadBackIntervalSeconds`), reading the ledger as any reader does (sealed segments
/// never change), so the ingest thread never waits for the archive. A failure is logged and counted and retried
/// at the next tick: the archive is a copy, and its lag metrics and alert say when it falls behind.
final class ArchiveShipper: @unchecked Sendable {
    static let help = [
        "ingest_archive_lag_bytes": "Sealed segment bytes not yet verified in the archive.",
        "ingest_archive_lag_seconds": "Seconds since the oldest sealed segment not yet in the archive was sealed.",
        "ingest_archived_through_lsn": "The last LSN verified in the archive.",
        "ingest_archive_failures_total": "Archive runs that failed (retried at the next interval).",
    ]

    private let directory: String
    private let target: any ArchiveTarget
    private let logger: Logger
    private let queue = DispatchQueue(label: "ledger-ingest.archive")
    private let timer: DispatchSourceTimer
    private let lagBytes = Gauge(label: "ingest_archive_lag_bytes")
    private let lagSeconds = Gauge(label: "ingest_archive_lag_seconds")
    private let archivedThrough = Gauge(label: "ingest_archived_through_lsn")
    private let failures = Counter(label: "ingest_archive_failures_total")
    /// Touched on `queue` only.
    private var archivedThroughLSN: UInt64 = 0
    private var lastReadBack: Date?
    private var lastTail = Date.distantPast
    /// Seconds between shipments of the open segment's durable tail; 0: never.
    private let tailSeconds: Int

    init(directory: String, target: any ArchiveTarget, intervalSeconds: Int, tailSeconds: Int, logger: Logger) {
        self.directory = directory
        self.target = target
        self.tailSeconds = tailSeconds
        self.logger = logger
        timer = DispatchSource.makeTimerSource(queue: queue)
        // The timer ticks at the shorter of the two periods; each run does what is due.
        let tick = tailSeconds > 0 ? min(intervalSeconds, tailSeconds) : intervalSeconds
        timer.schedule(deadline: .now(), repeating: .seconds(tick))
        timer.setEventHandler { [weak self] in self?.ship() }
        timer.resume()
    }

    /// Stops the timer and waits for a run in progress.
    func stop() {
        timer.cancel()
        queue.sync {}
    }

    private func ship() {
        do {
            let readBack =
                lastReadBack.map { -$0.timeIntervalSinceNow >= IngestLimits.archiveReadBackIntervalSeconds } ?? true
            let report = try LedgerArchive.archive(
                directory: directory, to: target, check: readBack ? .contents : .sizes, readBackEvicted: false)
            if readBack {
                lastReadBack = Date()
                logger.info(
                    "ingest.archive.read_back",
                    metadata: ["archive": "\(target.url)", "ledger.segments": "\(report.alreadyArchived)"])
            }
            archivedThroughLSN = report.archivedThroughLSN
            if tailSeconds > 0 && -lastTail.timeIntervalSinceNow >= Double(tailSeconds) - 0.5 {
                archivedThroughLSN = try LedgerArchive.shipTail(directory: directory, to: target)
                lastTail = Date()
            }
            for file in report.uploaded + report.repaired {
                logger.info(
                    "ingest.archive.uploaded", metadata: ["ledger.segment": "\(file)", "archive": "\(target.url)"])
            }
            for lost in report.evictedObjectsLost {
                failures.increment()
                logger.critical(
                    "ingest.archive.evicted_object_lost",
                    metadata: ["archive": "\(target.url)", "ingest.error": "\(lost)"])
            }
            for file in report.repaired {
                logger.warning(
                    "ingest.archive.repaired", metadata: ["ledger.segment": "\(file)", "archive": "\(target.url)"])
            }
        } catch {
            failures.increment()
            logger.error("ingest.archive.failed", metadata: ["archive": "\(target.url)", "ingest.error": "\(error)"])
        }
        archivedThrough.record(Int64(archivedThroughLSN))
        if let lag = try? LedgerArchive.lag(directory: directory, archivedThroughLSN: archivedThroughLSN) {
            lagBytes.record(lag.bytes)
            lagSeconds.record(lag.seconds)
        }
    }
}
