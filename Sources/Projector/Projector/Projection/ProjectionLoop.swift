import Foundation
import Ledger
import Logging
import OperatingErrors
import ServiceKit

/// The projector's work, on its own thread: follow every ledger from the warehouse's checkpoint, commit batches,
/// and ride out PostgreSQL outages.
///
/// Failures, as a table of cases:
/// - PostgreSQL unreachable, restarting, connection lost, lock or serialization conflict (transient SQLSTATE):
///   drop the session, wait (backoff doubling from `retryBackoffMillisecondsInitial` to
///   `retryBackoffMillisecondsMax`), reconnect, re-read every checkpoint and carry on from there. A COMMIT whose
///   answer was lost either happened (the checkpoint says so) or did not (the batch is projected again).
/// - Checkpoint moved (a rebuild swapped the schema, or a second projector slipped past the lock): start a new
///   session at once, re-read the checkpoints and carry on from there.
/// - A batch fails while the next one is in flight on the other load connection: the next one rolls back too
///   (`.batchCancelled`: it commits only after its predecessor), and the case of the first failure applies.
/// - A ledger directory without a ledger yet, or held by another projector: skip it, look again next round.
/// - A record that cannot be projected: commit what precedes it, then stop with its ledger id, LSN and reason
///   (unless `--quarantine`).
/// - Anything else (ledger corruption, schema newer than the code, a statement PostgreSQL refuses): stop.
final class ProjectionLoop {
    private let configuration: ProjectorConfiguration
    private let stop: StopSignal
    private let health: HealthCheck
    private let logger: Logger
    private let metrics = ProjectorMetrics()
    private let sources: [LedgerSource]
    private var session: ProjectionSession?
    private var backoffMilliseconds = ProjectorLimits.retryBackoffMillisecondsInitial
    private var lastPartitionMaintenance = Date.distantPast
    private var lastIdleCheckpointCheck = Date()
    /// Ledgers (directories) that reported catching up since they were last positioned.
    private var caughtUp: Set<String> = []

    init(configuration: ProjectorConfiguration, stop: StopSignal, health: HealthCheck, logger: Logger) {
        self.configuration = configuration
        self.stop = stop
        self.health = health
        self.logger = logger
        sources = configuration.ledgerDirectories.map(LedgerSource.init)
    }

    /// Runs until a stop is requested (then returns once the batches in flight have committed), every ledger
    /// is caught up with `exitWhenCaughtUp`, or a fatal error (thrown).
    func run() throws {
        while !stop.isRequested {
            do {
                let session = try connected()
                let busy = try projectRound(session)
                health.set(.healthy)
                backoffMilliseconds = ProjectorLimits.retryBackoffMillisecondsInitial
                try maintainPartitions(session)
                if !busy {
                    if configuration.exitWhenCaughtUp, try allCaughtUp() {
                        return logger.info("projector.caught_up.exiting")
                    }
                    try checkCheckpointsWhileIdle(session)
                    stop.wait(milliseconds: configuration.pollIntervalMilliseconds)
                }
            } catch let error as ProjectorError where error.isTransient {
                recover(from: error)
            } catch {
                health.set(.unhealthy("stopped: \(error)"))
                throw error
            }
        }
        try finishInFlight()
        logger.info("projector.stopped")
    }

    /// On a requested stop: lets the batches in flight commit. One that cannot (PostgreSQL went away) rolls
    /// back, which loses nothing: it is projected again at the next start.
    private func finishInFlight() throws {
        guard let session else { return }
        do {
            try finished(session.completeAll())
        } catch let error as ProjectorError where error.isTransient {
            logger.warning("projector.stopped.rolled_back", metadata: ["projector.error": "\(error)"])
        }
    }

    /// The session, connecting (and migrating) first when there is none.
    private func connected() throws -> ProjectionSession {
        if let session { return session }
        let created = try ProjectionSession(
            postgres: configuration.postgresURL, schema: configuration.schema, readerRole: configuration.readerRole,
            applicationName: "ledger-projector", logger: logger)
        logger.info(
            "projector.postgres.connected",
            metadata: [
                "postgres.target": "\(created.connection.target)", "warehouse.schema": "\(configuration.schema)",
                "warehouse.schema_version": "\(Migration.latestVersion)",
                "projector.rules_version": "\(created.rule.version)",
            ])
        session = created
        lastPartitionMaintenance = .distantPast
        return created
    }

    /// Hands the next batch of each ledger with new durable records to the load pipeline. When there is nothing
    /// new anywhere and a batch is in flight, waits for it at most one poll interval and looks again: a batch
    /// read meanwhile goes to the free connection and loads while the first one commits. Returns whether the
    /// projector is busy (read something, or has a batch in flight); false means idle, caught up everywhere.
    ///
    /// Why not wait for every batch in flight before looking again: under a steady stream that kept one batch
    /// in flight at a time and then slept a poll interval, so a record that became durable just after a read
    /// waited for the whole batch before it, the sleep, then its own batch, which had grown meanwhile.
    private func projectRound(_ session: ProjectionSession) throws -> Bool {
        var progressed = false
        for source in sources {
            do {
                try prepare(source, session)
            } catch let error as ProjectorError where error.code == .ledgerUnavailable || error.code == .ledgerBusy {
                logger.debug(
                    "projector.ledger.waiting",
                    metadata: ["ledger.path": "\(source.directory)", "projector.reason": "\(error.code)"])
                continue
            }
            let entries = try source.nextEntries(maxRecords: configuration.transactionRecords)
            guard !entries.isEmpty else { continue }
            progressed = true
            try finished(session.submit(entries, of: source, quarantine: configuration.quarantine))
        }
        guard !progressed else { return true }
        if session.hasBatchesInFlight {
            if let committed = try session.completeOldest(
                waitingAtMostMilliseconds: configuration.pollIntervalMilliseconds)
            {
                try finished([committed])
            }
            return true
        }
        for source in sources { try report(source, lastIngestMicroseconds: nil) }
        return false
    }

    /// Accounts for committed batches: metrics, logs, where each ledger stands.
    private func finished(_ batches: [CommittedBatch]) throws {
        for committed in batches {
            metrics.committed(committed)
            logger.debug(
                "projector.batch.committed",
                metadata: [
                    "ledger.id": "\(committed.batch.ledgerID.text)",
                    "projector.first_lsn": "\(committed.batch.firstLSN)",
                    "projector.last_lsn": "\(committed.batch.lastLSN)",
                    "projector.rows": "\(committed.outcome.rowsInserted)",
                ])
            if let source = sources.first(where: { $0.ledgerID == committed.batch.ledgerID }) {
                try report(source, lastIngestMicroseconds: committed.batch.lastIngestMicroseconds)
            }
        }
    }

    /// Opens the ledger, takes its lock and places its cursor at the warehouse's checkpoint, if not yet done.
    private func prepare(_ source: LedgerSource, _ session: ProjectionSession) throws {
        guard !source.isPositioned else { return }
        let reader = try source.open()
        guard try session.tryLock(ledgerID: reader.ledgerID) else {
            throw ProjectorError(
                .ledgerBusy, "another projector holds this ledger for this warehouse schema",
                [("ledger.id", "\(reader.ledgerID.text)")])
        }
        let checkpoint = try session.checkpoint(of: reader.ledgerID)
        let durable = try source.durableLSN()
        guard checkpoint <= durable else {
            throw ProjectorError(
                .ledger,
                "the warehouse holds more of this ledger than the ledger itself (was the ledger directory replaced?)",
                [
                    ("ledger.id", "\(reader.ledgerID.text)"), ("ledger.path", source.directory),
                    ("checkpoint", String(checkpoint)), ("durable_lsn", String(durable)),
                ])
        }
        try session.checkHistory(of: reader.ledgerID, directory: source.directory, checkpoint: checkpoint)
        try source.position(after: checkpoint)
        caughtUp.remove(source.directory)
        logger.info(
            "projector.ledger.positioned",
            metadata: [
                "ledger.id": "\(reader.ledgerID.text)", "ledger.path": "\(source.directory)",
                "projector.checkpoint_lsn": "\(checkpoint)", "ledger.durable_lsn": "\(durable)",
            ])
    }

    /// Publishes where a ledger stands and logs when it catches up.
    private func report(_ source: LedgerSource, lastIngestMicroseconds: Int64?) throws {
        guard let ledgerID = source.ledgerID else { return }
        let durable = try source.durableLSN()
        let behind = source.checkpoint < durable
        let now = Date().timeIntervalSince1970
        let lag = behind ? max(0, now - Double(lastIngestMicroseconds ?? Int64(now * 1_000_000)) / 1_000_000) : 0
        metrics.position(ledgerID, checkpoint: source.checkpoint, durable: durable, lagSeconds: lag)
        // Logged once per positioning: under steady load a ledger is caught up and behind again ten times a second.
        if !behind && caughtUp.insert(source.directory).inserted {
            logger.info(
                "projector.ledger.caught_up",
                metadata: ["ledger.id": "\(ledgerID.text)", "projector.checkpoint_lsn": "\(source.checkpoint)"])
        }
    }

    private func allCaughtUp() throws -> Bool {
        try sources.allSatisfy { source in
            guard source.isPositioned else {
                return !FileManager.default.fileExists(atPath: source.directory + "/index.sqlite")
            }
            return source.checkpoint >= (try source.durableLSN())
        }
    }

    /// Every `ProjectorLimits.idleCheckpointCheckIntervalSeconds`: throws `.checkpointMoved` (the loop starts
    /// over from the warehouse's checkpoints) when a ledger's checkpoint is not where this projector left it.
    private func checkCheckpointsWhileIdle(_ session: ProjectionSession) throws {
        guard
            Date().timeIntervalSince(lastIdleCheckpointCheck)
                >= Double(ProjectorLimits.idleCheckpointCheckIntervalSeconds)
        else { return }
        lastIdleCheckpointCheck = Date()
        for source in sources where source.isPositioned {
            guard let ledgerID = source.ledgerID else { continue }
            let found = try session.checkpoint(of: ledgerID)
            guard found == source.checkpoint else {
                throw ProjectorError(
                    .checkpointMoved,
                    "the warehouse's checkpoint moved while this projector was idle (a rebuild swapped in?)",
                    [
                        ("ledger.id", ledgerID.text), ("expected", String(source.checkpoint)), ("found", String(found)),
                    ])
            }
        }
    }

    private func maintainPartitions(_ session: ProjectionSession) throws {
        guard
            Date().timeIntervalSince(lastPartitionMaintenance)
                >= Double(ProjectorLimits.partitionMaintenanceIntervalSeconds)
        else { return }
        let today = ProjectionSession.today()
        try session.partitions.createAhead(session.connection, today: today)
        if configuration.retentionDays > 0 {
            let firstKept = UTCCalendar.Day(
                daysSinceEpoch: today.daysSinceEpoch - Int64(configuration.retentionDays - 1))
            _ = try session.partitions.dropDays(before: firstKept, session.connection)
        }
        lastPartitionMaintenance = Date()
    }

    private func recover(from error: ProjectorError) {
        metrics.retried()
        for source in sources { source.invalidate() }
        // Dropping the session waits for the batches in flight to finish (commit or roll back) on their own.
        session = nil
        if error.code == .checkpointMoved {
            // Our idea of where a ledger stands, or of the schema (a rebuild swapped it), was stale: start over from
            // what the warehouse says, at once.
            logger.warning("projector.checkpoint.moved", metadata: ["projector.error": "\(error)"])
            return
        }
        let postgres = [.connectionFailed, .postgres, .batchCancelled].contains(error.code)
        health.set(.unhealthy(postgres ? "postgres unavailable: \(error.code)" : "retrying: \(error.code)"))
        logger.warning(
            postgres ? "projector.postgres.unavailable" : "projector.retrying",
            metadata: ["projector.error": "\(error)", "projector.retry_in_ms": "\(backoffMilliseconds)"])
        stop.wait(milliseconds: backoffMilliseconds)
        backoffMilliseconds = min(backoffMilliseconds * 2, ProjectorLimits.retryBackoffMillisecondsMax)
    }
}
