import Foundation

/// What happened to one planned fault.
struct FaultEvent {
    enum Outcome: String {
        /// The fault took effect (a file fault: the armed ingest failed on it and exited non-zero).
        case injected
        /// It could not take effect (an armed ingest that never wrote, a sealed last segment): drawn again later.
        case notFired = "not fired"
    }

    var fault: PlannedFault
    /// Seconds after the load started.
    var startedAt: Double
    var outcome: Outcome
    var note: String
}

/// A misbehaviour seen while the campaign ran (each one fails the run): a service that died on its own, a
/// SIGTERM that did not exit 0, a torn tail that recovery did not repair.
struct Finding {
    var check: String
    var detail: String
}

/// Carries out planned faults against the running pipeline and keeps every service running in between.
///
/// A file fault is armed, not waited for: the ingest restarted with `--inject-fault` first has to rejoin the
/// consumer group (the broker waits out the crashed member's session) and write; meanwhile the other faults go on.
/// `supervise` settles it when that ingest exits. Another fault aimed at the same instance waits until then.
final class FaultInjector {
    private struct ArmedFault {
        var fault: PlannedFault
        /// The ingest restarted with `--inject-fault`, and when.
        var run: ChildProcess
        var armedAt: Date
        /// When it was assigned partitions: it cannot write, so the fault cannot fire, before.
        var assignedAt: Date?
        /// When messages were produced to make it write (the load alone did not reach the failing operation).
        var nudges: [Date] = []
    }

    let environment: CampaignEnvironment
    private let broker: DevBroker
    let ingests: [IngestInstance]
    let projector: ProjectorService
    private let postgres: PostgresControl
    private let load: LoadGenerator
    private let started: Date
    private var armed: [Int: ArmedFault] = [:]
    private var retries: [FaultKind] = []
    private(set) var events: [FaultEvent] = []
    var findings: [Finding] = []
    private(set) var gracefulStops = 0
    /// `ledger-tool retain` between faults (`retainIfDue`).
    var retention = RetentionRuns()
    /// API keys that got request errors: cleared before the drain.
    private(set) var apiKeysWithErrors: Set<Int> = []
    /// Called with each settled fault (progress output).
    var onEvent: (FaultEvent) -> Void = { _ in }

    init(
        environment: CampaignEnvironment, broker: DevBroker, ingests: [IngestInstance], projector: ProjectorService,
        postgres: PostgresControl, load: LoadGenerator, started: Date
    ) {
        self.environment = environment
        self.broker = broker
        self.ingests = ingests
        self.projector = projector
        self.postgres = postgres
        self.load = load
        self.started = started
    }

    var elapsed: Double { Date().timeIntervalSince(started) }
    var hasArmedFaults: Bool { !armed.isEmpty }

    /// Kinds of faults that could not take effect since the last call: the campaign draws them again.
    func takeRetries() -> [FaultKind] {
        defer { retries.removeAll() }
        return retries
    }

    func inject(_ fault: PlannedFault) throws {
        supervise()
        let targetsIngest = [
            .ingestKill, .tornTail, .fsyncFailure, .writeFailure, .shortWrite, .diskFull, .archiveDown, .ledgerLost,
        ].contains(fault.kind)
        if targetsIngest { waitUntilSettled(fault.target) }
        let at = elapsed
        let result: (FaultEvent.Outcome, String)
        switch fault.kind {
        case .ingestKill: result = try killIngest(ingests[fault.target], restartAfter: fault.holdMilliseconds)
        case .projectorKill: result = try killProjector(restartAfter: fault.holdMilliseconds)
        case .postgresRestart: result = try restartPostgres()
        case .brokerErrors: result = try pushBrokerErrors(fault)
        case .brokerDown: result = try takeBrokerDown(fault)
        case .brokerSlow: result = try slowBroker(fault)
        case .tornTail: result = try tearTail(ingests[fault.target], fault)
        case .archiveCorrupted: result = try corruptArchivedSegment(ingests[fault.target], fault)
        case .archiveDown: result = try takeArchiveDown(ingests[fault.target], fault)
        case .ledgerLost: result = try loseLedger(ingests[fault.target], fault)
        case .fsyncFailure, .writeFailure, .shortWrite, .diskFull:
            try arm(fault)
            return
        }
        settle(FaultEvent(fault: fault, startedAt: at, outcome: result.0, note: result.1))
    }

    /// Sleeps in small steps, restarting (and reporting) any service that stopped on its own.
    func sleepSupervising(seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            supervise()
            Thread.sleep(forTimeInterval: min(0.2, max(0, deadline.timeIntervalSinceNow)))
        } while Date() < deadline
    }

    /// Waits until every armed file fault has fired or given up.
    func waitUntilSettled() {
        while hasArmedFaults { sleepSupervising(seconds: 0.2) }
    }

    private func waitUntilSettled(_ instance: Int) {
        while armed[instance] != nil { sleepSupervising(seconds: 0.2) }
    }

    /// Settles armed file faults, and treats any other service that exited without being told to as a finding
    /// (faults must be ridden out, not fatal), starting it again so the campaign goes on.
    func supervise() {
        for (index, ingest) in ingests.enumerated() {
            if let fault = armed[index] {
                watchArmed(fault, index)
                continue
            }
            restartIfExited(ingest.current, "ledger-ingest \(ingest.name)") { _ = try ingest.start() }
        }
        restartIfExited(projector.current, "ledger-projector") { _ = try projector.start() }
        retainIfDue()
    }

    /// A service that is not running and was not told to stop is a finding; it is started again.
    private func restartIfExited(_ run: ChildProcess?, _ service: String, start: () throws -> Void) {
        guard let run, !run.isRunning else { return }
        let status = run.waitForExit(timeoutSeconds: 1) ?? -1
        findings.append(
            Finding(
                check: "services exited on their own",
                detail: "\(service) exited \(status) at \(Int(elapsed)) s: \(lastLine(run))"))
        try? start()
    }

    /// SIGTERM must drain, fsync, commit and exit 0. An ingest is first given time to finish starting: a signal in
    /// its first milliseconds, before its handlers exist, kills it by default (status 143) before it did anything.
    func stopGracefully(_ run: ChildProcess) {
        let deadline = Date().addingTimeInterval(ChaosLimits.startupSeconds)
        while run.isRunning && run.name.hasPrefix("ledger-ingest") && !run.output().contains("ingest.started")
            && Date() < deadline
        {
            Thread.sleep(forTimeInterval: 0.05)
        }
        gracefulStops += 1
        let status = run.stopGracefully()
        if status != 0 {
            findings.append(
                Finding(
                    check: "SIGTERM stops that did not exit 0",
                    detail:
                        "\(run.name) exited \(status.map(String.init) ?? "never (killed after \(Int(ChaosLimits.gracefulStopTimeoutSeconds)) s)") at \(Int(elapsed)) s: \(lastLine(run))"
                ))
        }
    }

    private func settle(_ event: FaultEvent) {
        events.append(event)
        if event.outcome == .notFired { retries.append(event.fault.kind) }
        onEvent(event)
    }

    // MARK: Process crashes

    private func killIngest(_ ingest: IngestInstance, restartAfter milliseconds: Int) throws -> (
        FaultEvent.Outcome, String
    ) {
        ingest.current?.killHard()
        Thread.sleep(forTimeInterval: Double(milliseconds) / 1000)
        try ingest.start()
        return (.injected, "")
    }

    private func killProjector(restartAfter milliseconds: Int) throws -> (FaultEvent.Outcome, String) {
        projector.current?.killHard()
        Thread.sleep(forTimeInterval: Double(milliseconds) / 1000)
        try projector.start()
        return (.injected, "")
    }

    private func restartPostgres() throws -> (FaultEvent.Outcome, String) {
        let before = Date()
        try postgres.restartImmediately()
        return (.injected, String(format: "%.1f s", Date().timeIntervalSince(before)))
    }

    // MARK: Broker trouble

    private func pushBrokerErrors(_ fault: PlannedFault) throws -> (FaultEvent.Outcome, String) {
        try broker.command("errors \(fault.brokerError.apiKey) \(fault.brokerError.error) \(fault.errorCount)")
        apiKeysWithErrors.insert(fault.brokerError.apiKey)
        return (.injected, "")
    }

    private func takeBrokerDown(_ fault: PlannedFault) throws -> (FaultEvent.Outcome, String) {
        try broker.command("down \(fault.target)")
        sleepSupervising(seconds: Double(fault.holdMilliseconds) / 1000)
        try broker.command("up \(fault.target)")
        return (.injected, "")
    }

    private func slowBroker(_ fault: PlannedFault) throws -> (FaultEvent.Outcome, String) {
        try broker.command("rtt \(fault.target) \(fault.roundTripMilliseconds)")
        sleepSupervising(seconds: Double(fault.holdMilliseconds) / 1000)
        try broker.command("rtt \(fault.target) 0")
        return (.injected, "")
    }

    // MARK: The ledger's file layer

    /// Restarts one ingest with a file fault armed (`--inject-fault`); `watchArmed` settles it.
    private func arm(_ fault: PlannedFault) throws {
        let ingest = ingests[fault.target]
        if let run = ingest.current { stopGracefully(run) }
        let run = try ingest.start(fault: fault.injectionSpecification)
        armed[fault.target] = ArmedFault(fault: fault, run: run, armedAt: Date())
    }

    /// The armed ingest must exit non-zero, saying the operation was injected. Once it has partitions, it is
    /// nudged with a few messages when nothing else is being produced; after `armedFaultTimeoutSeconds` the fault
    /// counts as not fired (and is drawn again).
    private func watchArmed(_ state: ArmedFault, _ index: Int) {
        var state = state
        let ingest = ingests[index]
        if !state.run.isRunning {
            let status = state.run.waitForExit(timeoutSeconds: 1) ?? -1
            let log = state.run.output()
            if status == 0 || !log.contains("injected") {
                findings.append(
                    Finding(
                        check: "file faults that did not stop ingest with an error",
                        detail:
                            "fault #\(state.fault.number) (\(state.fault.summary)): exit \(status): \(lastLine(state.run))"
                    ))
            }
            armed[index] = nil
            _ = try? ingest.start()
            let waited = String(format: "%.0f s", Date().timeIntervalSince(state.armedAt))
            let nudged = state.nudges.isEmpty ? "" : ", \(state.nudges.count) nudge(s)"
            settle(
                FaultEvent(
                    fault: state.fault, startedAt: state.armedAt.timeIntervalSince(started), outcome: .injected,
                    note: "exit \(status) after \(waited)\(nudged)"))
            return
        }
        if Date().timeIntervalSince(state.armedAt) > ChaosLimits.armedFaultTimeoutSeconds {
            armed[index] = nil
            stopGracefully(state.run)
            _ = try? ingest.start()
            settle(
                FaultEvent(
                    fault: state.fault, startedAt: state.armedAt.timeIntervalSince(started), outcome: .notFired,
                    note:
                        "no \(state.fault.kind == .fsyncFailure ? "fsync" : "write") #\(state.fault.failingOperation) in \(Int(ChaosLimits.armedFaultTimeoutSeconds)) s"
                ))
            return
        }
        if state.assignedAt == nil && state.run.output().contains("ingest.partitions_assigned") {
            state.assignedAt = Date()
        }
        let quietSince = state.nudges.last ?? state.assignedAt
        if let quietSince, Date().timeIntervalSince(quietSince) > ChaosLimits.nudgeAfterSeconds, !load.isProducing,
            (try? load.nudge()) == true
        {
            state.nudges.append(Date())
        }
        armed[index] = state
    }

    /// kill -9, then appends bytes that never became durable to the last segment (what a crash in the middle of
    /// a write leaves), then restarts: recovery must cut exactly those bytes, keep a `.broken` copy and say so.
    private func tearTail(_ ingest: IngestInstance, _ fault: PlannedFault) throws -> (FaultEvent.Outcome, String) {
        ingest.current?.killHard()
        defer { if ingest.current?.isRunning != true { _ = try? ingest.start() } }
        guard let segment = try lastSegment(ingest.ledger) else { return (.notFired, "no segment yet") }
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: segment))
        let size = try handle.seekToEnd()
        if try isSealed(handle, size: size) {
            try handle.close()
            return (.notFired, "last segment sealed")
        }
        try handle.write(contentsOf: tornBytes(fault))
        try handle.close()
        let brokenBefore = try brokenCopies(ingest.ledger)
        let run = try ingest.start()
        let deadline = Date().addingTimeInterval(ChaosLimits.ledgerOpenTimeoutSeconds)
        while !run.output().contains("ledger.opened") && run.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        let brokenAfter = try brokenCopies(ingest.ledger)
        let repaired =
            Self.recoveryCut(in: run.output(), covers: size..<(size + UInt64(fault.tornBytes)))
            && brokenAfter > brokenBefore
        if !repaired {
            findings.append(
                Finding(
                    check: "torn tails not repaired",
                    detail: "fault #\(fault.number) (\(fault.summary)) on \(segment) at byte \(size): \(lastLine(run))")
            )
            if !run.isRunning {
                // Recovery refused bytes that were never durable. Remove them (they are the campaign's own) so the
                // run can go on; the finding fails it.
                run.killHard()
                let file = try FileHandle(forUpdating: URL(fileURLWithPath: segment))
                try file.truncate(atOffset: size)
                try file.close()
            }
        }
        return (.injected, "at byte \(size)")
    }

    /// Whether the log shows recovery cutting a segment from at or before `bytes` to at least their end, with a
    /// copy kept. Either cut does it: `torn_tail_truncated` (the noise alone), or `undurable_tail_dropped` when a
    /// frame written before a failed fsync lies before the noise (seed 121923587: an fsync fault, then a torn tail
    /// while ingest was down; recovery dropped both, 285 bytes from the frame on, and said so as the undurable
    /// tail it was; the check, which knew only the first event, called that "not repaired").
    static func recoveryCut(in log: String, covers bytes: Range<UInt64>) -> Bool {
        log.split(separator: "\n").contains { line in
            guard
                line.contains("ledger.recovery.torn_tail_truncated")
                    || line.contains("ledger.recovery.undurable_tail_dropped"),
                let offset = value(of: "ledger.offset", in: line),
                let dropped = value(of: "ledger.bytes_dropped", in: line)
            else { return false }
            return offset <= bytes.lowerBound && offset + dropped >= bytes.upperBound
        }
    }

    /// The number after `key=` in a text log line.
    private static func value(of key: String, in line: Substring) -> UInt64? {
        guard let start = line.range(of: key + "=")?.upperBound else { return nil }
        return UInt64(line[start...].prefix { $0.isNumber })
    }

    private func tornBytes(_ fault: PlannedFault) -> Data {
        var random = SplitMix64(seed: UInt64(fault.number) &* 0x9E37_79B9 ^ UInt64(fault.tornBytes))
        var bytes = Data((0..<fault.tornBytes).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        if fault.tornLooksLikeFrame {
            // The frame magic ("PFRM", little-endian 0x4D52_4650) and a zero flags word: a frame header cut short.
            let magic: [UInt8] = [0x50, 0x46, 0x52, 0x4D, 0x01, 0x00, 0x00, 0x00]
            bytes.replaceSubrange(0..<min(magic.count, bytes.count), with: magic.prefix(bytes.count))
        }
        return bytes
    }

    /// A sealed segment ends with its 32-byte footer, whose magic is "SEAL" (0x4C41_4553 little-endian).
    private func isSealed(_ handle: FileHandle, size: UInt64) throws -> Bool {
        guard size >= 32 else { return false }
        try handle.seek(toOffset: size - 32)
        let magic = try handle.read(upToCount: 4) ?? Data()
        try handle.seekToEnd()
        return magic == Data("SEAL".utf8)
    }

    private func lastSegment(_ ledger: String) throws -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: ledger)) ?? []
        return names.filter { $0.hasSuffix(".seg") }.sorted().last.map { "\(ledger)/\($0)" }
    }

    private func brokenCopies(_ ledger: String) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: ledger).filter { $0.hasSuffix(".broken") }.count
    }

    private func lastLine(_ run: ChildProcess) -> String {
        let lines = run.output().split(separator: "\n")
        return String(
            lines.last(where: { $0.contains("error") || $0.contains("critical") }) ?? lines.last ?? "(no output)"
        ).prefix(400).description
    }
}
