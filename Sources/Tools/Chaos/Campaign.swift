import Foundation

/// Deliberately broken results, to show that the checks can fail (`--tamper`, hidden).
enum Tamper: String, CaseIterable {
    case none
    /// Deletes one transaction row and one rejected row from the warehouse before it is read.
    case warehouse
    /// Forgets one produced message, as if the ledger held an offset nobody produced.
    case oracle
}

/// One run: start the pipeline, produce while the scheduled faults happen, let everything drain, then judge the
/// ledgers, the warehouse and the dead-letter topic against the oracle.
final class Campaign {
    struct Settings {
        var seed: UInt64
        var profile: CampaignProfile
        var faults: Int
        var instances: Int
        var tamper: Tamper
    }

    // Stored collaborators, one per line, like `ProjectionSession`'s: alike in shape only.
    private let settings: Settings
    private let environment: CampaignEnvironment
    private let report: Report
    private let postgres: PostgresControl
    /// Acknowledged messages written to the topic a second time on purpose.
    private var copiesWritten = 0

    init(settings: Settings, environment: CampaignEnvironment, report: Report) {
        self.settings = settings
        self.environment = environment
        self.report = report
        postgres = PostgresControl(environment: environment)
    }

    /// True when every check passed.
    func run() throws -> Bool {
        try prepareWorkDirectory()
        _ = try postgres.query(
            "DROP SCHEMA IF EXISTS \(ChaosLimits.warehouseSchema) CASCADE; DROP SCHEMA IF EXISTS \(ChaosLimits.warehouseSchema)__rebuild CASCADE"
        )
        let broker = try DevBroker(environment, partitions: ChaosLimits.partitions, brokers: ChaosLimits.brokers)
        defer { broker.stop() }
        let ingests = (0..<settings.instances).map {
            IngestInstance(name: ["a", "b"][$0], environment: environment, brokers: broker.bootstrap)
        }
        for ingest in ingests { try ingest.start() }
        let projector = ProjectorService(environment: environment, ledgers: ingests.map(\.ledger))
        try projector.start()
        defer { stopAll(ingests, projector) }

        var schedule = FaultSchedule(
            profile: settings.profile, faults: settings.faults, instances: settings.instances, seed: settings.seed)
        let rate = (Double(settings.profile.messages) / max(schedule.windowSeconds, 10)).rounded()
        report.line(
            "\(settings.profile.rawValue) form: \(settings.instances) ingest instance(s), \(ChaosLimits.partitions) partitions on \(ChaosLimits.brokers) brokers, "
                + "\(settings.profile.messages) messages at \(Int(rate))/s over ~\(Int(schedule.windowSeconds)) s, \(settings.faults) faults; logs in \(environment.work)"
        )
        let started = Date()
        let load = LoadGenerator(environment: environment, brokers: broker.bootstrap, seed: settings.seed)
        try load.start(messages: settings.profile.messages, rate: rate)
        let injector = FaultInjector(
            environment: environment, broker: broker, ingests: ingests, projector: projector, postgres: postgres,
            load: load, started: started)
        let events = try injectFaults(&schedule, injector, load: load)
        let faultSeconds = injector.elapsed

        let drainStarted = Date()
        try liftBrokerFaults(broker, injector)
        let producerFailures = load.finish(timeoutSeconds: ChaosLimits.drainTimeoutSeconds)
        // Nothing is produced to the topic any more: what it holds now is what ingest had to read.
        let topic = try readTopic(ChaosLimits.topic, broker)
        var oracle = try Oracle(topic: topic, recordFiles: load.recordFiles)
        let drained = waitForLedgers(oracle.partitionEnds, ingests, injector)
        for ingest in ingests { if let run = ingest.current { injector.stopGracefully(run) } }
        if let run = projector.current { injector.stopGracefully(run) }
        let finalProjectorStatus = try projector.catchUp(timeoutSeconds: ChaosLimits.drainTimeoutSeconds)
        injector.retainEverything()
        let drainSeconds = Date().timeIntervalSince(drainStarted)

        let ledgers = try ingests.map {
            try LedgerContents.read(name: $0.name, directory: $0.ledger, ledgerTool: environment.ledgerTool)
        }
        let archives = try zip(ingests, ledgers).map {
            try ArchiveContents.judge($0.0, ledger: $0.1, environment: environment)
        }
        try applyTamper(&oracle)
        let verdict = Verdict(
            oracle: oracle, ledgers: ledgers, archives: archives, retention: injector.retention,
            warehouse: try WarehouseContents.read(postgres),
            deadLetters: DeadLetters.read(try readTopic(ChaosLimits.deadLetterTopic, broker)),
            copiesWritten: copiesWritten, findings: injector.findings, producerFailures: producerFailures,
            drained: drained, finalProjectorStatus: finalProjectorStatus)
        let checks = verdict.checks
        report.faultTable(events, gracefulStops: injector.gracefulStops)
        report.checkTable(checks)
        let injected = events.filter { $0.outcome == .injected }.count
        let failed = checks.filter { !$0.passed }.count
        report.line(
            String(
                format: "%@: %d faults injected in %.0f s, drained in %.0f s, %d checks, %d failed (seed %llu)",
                failed == 0 && injected >= settings.faults ? "PASS" : "FAIL", injected, faultSeconds, drainSeconds,
                checks.count, failed, settings.seed))
        if injected < settings.faults { report.line("only \(injected) of \(settings.faults) faults took effect") }
        return failed == 0 && injected >= settings.faults
    }

    private func prepareWorkDirectory() throws {
        try? FileManager.default.removeItem(atPath: environment.work)
        try FileManager.default.createDirectory(atPath: environment.work, withIntermediateDirectories: true)
    }

    /// Runs the schedule, then waits for the armed file faults to settle; a fault that could not take effect is
    /// drawn again (at most as many retries as faults).
    ///
    /// Halfway through the window, a few acknowledged messages are written again (`LoadGenerator.writeCopies`).
    private func injectFaults(_ schedule: inout FaultSchedule, _ injector: FaultInjector, load: LoadGenerator) throws
        -> [FaultEvent]
    {
        let log = environment.work + "/faults.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let logHandle = FileHandle(forWritingAtPath: log)
        defer { try? logHandle?.close() }
        let report = self.report
        injector.onEvent = { event in
            let fault = event.fault
            let line = String(
                format: "[%6.1f s] #%-3d %@ — %@%@", event.startedAt, fault.number, fault.kind.rawValue, fault.summary,
                event.outcome == .injected
                    ? (event.note.isEmpty ? "" : " (\(event.note))") : " — NOT FIRED: \(event.note)")
            report.progress(line)
            try? logHandle?.write(contentsOf: Data((line + "\n").utf8))
        }
        var index = 0
        var retries = 0
        let copiesDue = schedule.windowSeconds / 2
        while index < schedule.faults.count || injector.hasArmedFaults {
            if copiesWritten == 0 && injector.elapsed >= copiesDue {
                copiesWritten = try load.writeCopies(count: ChaosLimits.copiesPerRun, kcat: environment.kcat)
                report.progress(
                    String(
                        format:
                            "[%6.1f s] wrote %d acknowledged messages again with kcat (a broker writing retried produces twice)",
                        injector.elapsed, copiesWritten))
            }
            if index < schedule.faults.count {
                let fault = schedule.faults[index]
                index += 1
                injector.sleepSupervising(seconds: max(0, fault.at - injector.elapsed))
                try injector.inject(fault)
            } else {
                injector.sleepSupervising(seconds: 0.2)
            }
            for kind in injector.takeRetries() where retries < settings.faults {
                retries += 1
                _ = schedule.retry(kind, after: injector.elapsed + 1)
            }
        }
        return injector.events
    }

    /// Every message `topic` holds, read back with kcat; what was read is kept in the work directory.
    private func readTopic(_ topic: String, _ broker: DevBroker) throws -> TopicContents {
        let started = Date()
        let contents = try TopicContents.read(
            kcat: environment.kcat, brokers: broker.bootstrap, topic: topic,
            copyPath: "\(environment.work)/topic-\(topic).kcat")
        report.line(
            String(
                format: "read %@ back: %d messages in %.1f s", topic, contents.messages.count,
                Date().timeIntervalSince(started)))
        return contents
    }

    private func liftBrokerFaults(_ broker: DevBroker, _ injector: FaultInjector) throws {
        for apiKey in injector.apiKeysWithErrors.sorted() { try broker.command("clear \(apiKey)") }
        for id in 1...ChaosLimits.brokers {
            try broker.command("up \(id)")
            try broker.command("rtt \(id) 0")
        }
    }

    /// Waits until, for every partition, some ledger has recorded the last produced offset.
    private func waitForLedgers(_ ends: [Int: Int], _ ingests: [IngestInstance], _ injector: FaultInjector) -> Bool {
        let deadline = Date().addingTimeInterval(ChaosLimits.drainTimeoutSeconds)
        while Date() < deadline {
            var reached: [Int: Int] = [:]
            for ingest in ingests {
                reached.merge(LedgerContents.watermarks(directory: ingest.ledger, ledgerTool: environment.ledgerTool)) {
                    max($0, $1)
                }
            }
            if ends.allSatisfy({ (reached[$0.key] ?? -1) >= $0.value }) { return true }
            injector.sleepSupervising(seconds: 1)
        }
        return false
    }

    private func applyTamper(_ oracle: inout Oracle) throws {
        let schema = ChaosLimits.warehouseSchema
        switch settings.tamper {
        case .none: return
        case .oracle:
            if let first = oracle.produced.keys.min() { oracle.forget(first) }
        case .warehouse:
            _ = try postgres.query(
                "DELETE FROM \(schema).transactions WHERE order_id = (SELECT order_id FROM \(schema).transactions LIMIT 1)"
            )
            _ = try postgres.query(
                "DELETE FROM \(schema).rejected_messages WHERE (source_partition, source_offset) IN (SELECT source_partition, source_offset FROM \(schema).rejected_messages WHERE kind = 'rejected' LIMIT 1)"
            )
        }
        report.line("tampered with the \(settings.tamper.rawValue) on purpose: the checks below must fail")
    }

    private func stopAll(_ ingests: [IngestInstance], _ projector: ProjectorService) {
        for ingest in ingests { _ = ingest.current?.stopGracefully(timeoutSeconds: 10) }
        _ = projector.current?.stopGracefully(timeoutSeconds: 10)
    }
}
