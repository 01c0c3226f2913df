/// The kinds of fault the campaign injects, in the order of the report.
enum FaultKind: String, CaseIterable, Sendable {
    case ingestKill = "kill -9 ledger-ingest"
    case projectorKill = "kill -9 ledger-projector"
    case postgresRestart = "PostgreSQL restart (immediate)"
    case brokerErrors = "broker request errors"
    case brokerDown = "broker down, then up"
    case brokerSlow = "broker round trip +100..800 ms"
    case fsyncFailure = "fsync failure (EIO)"
    case writeFailure = "write failure (EIO)"
    case shortWrite = "short write (half, then ENOSPC)"
    case diskFull = "disk full (ENOSPC)"
    case tornTail = "torn tail appended while down"
    case archiveCorrupted = "archived segment corrupted"
    case archiveDown = "archive unreachable, then back"
    case ledgerLost = "ledger disk lost, restored from the archive"

    /// Relative frequency beyond each kind's minimum: process crashes are the commonest real fault.
    var weight: Int {
        switch self {
        case .ingestKill: 3
        case .projectorKill, .brokerErrors: 2
        default: 1
        }
    }

    /// Seconds the fault usually keeps the campaign busy, so the schedule leaves room for it and the load spans the
    /// whole window. A file fault keeps its ingest instance busy until the restarted process has rejoined the
    /// group (the broker first waits out the crashed member) and written; the next fault on that instance waits.
    var typicalSeconds: Double {
        switch self {
        case .fsyncFailure, .writeFailure, .shortWrite, .diskFull: 10
        case .tornTail, .postgresRestart, .brokerDown, .brokerSlow, .archiveDown: 2
        case .ledgerLost: 8
        default: 0.5
        }
    }

    /// Faults in the ledger's file layer, injected with `ledger-ingest --inject-fault`.
    var fileFault: String? {
        switch self {
        case .fsyncFailure: "fsync"
        case .writeFailure: "eio"
        case .shortWrite: "short"
        case .diskFull: "enospc"
        default: nil
        }
    }
}

/// Broker request errors the campaign pushes: each is one a real cluster returns during leader moves, coordinator
/// fail-over or rebalances, and one the clients must retry.
struct BrokerErrorChoice: Sendable {
    var apiKey: Int
    var apiName: String
    var error: String
    var counts: ClosedRange<Int>

    static let all: [BrokerErrorChoice] = [
        BrokerErrorChoice(apiKey: 0, apiName: "Produce", error: "NOT_LEADER_FOR_PARTITION", counts: 1...5),
        BrokerErrorChoice(apiKey: 1, apiName: "Fetch", error: "NOT_LEADER_FOR_PARTITION", counts: 5...30),
        BrokerErrorChoice(apiKey: 1, apiName: "Fetch", error: "REQUEST_TIMED_OUT", counts: 1...10),
        BrokerErrorChoice(apiKey: 8, apiName: "OffsetCommit", error: "COORDINATOR_NOT_AVAILABLE", counts: 1...5),
        BrokerErrorChoice(apiKey: 8, apiName: "OffsetCommit", error: "REBALANCE_IN_PROGRESS", counts: 1...3),
        BrokerErrorChoice(apiKey: 12, apiName: "Heartbeat", error: "REBALANCE_IN_PROGRESS", counts: 1...3),
    ]
}

/// One fault as drawn from the seed: when, what, on which instance or broker, and its parameters.
struct PlannedFault: Sendable {
    var number: Int
    /// Seconds after the load started.
    var at: Double
    var kind: FaultKind
    /// Ingest instance (0-based) or broker id (1-based), by kind.
    var target: Int
    /// Milliseconds before a killed process is started again, or a broker/round-trip fault is lifted.
    var holdMilliseconds: Int
    /// File faults: which fsync or write fails (counted from 1 in the run).
    var failingOperation: Int
    var brokerError: BrokerErrorChoice
    var errorCount: Int
    var roundTripMilliseconds: Int
    /// Torn tail: bytes appended, and whether they start like a frame header (a torn frame) or are noise.
    var tornBytes: Int
    var tornLooksLikeFrame: Bool

    /// What was done, for the event log.
    var summary: String {
        switch kind {
        case .ingestKill: "ingest #\(target), restart after \(holdMilliseconds) ms"
        case .projectorKill: "restart after \(holdMilliseconds) ms"
        case .postgresRestart: "pg_ctl restart -m immediate"
        case .brokerErrors: "\(brokerError.apiName) \(brokerError.error) ×\(errorCount)"
        case .brokerDown: "broker \(target) for \(holdMilliseconds) ms"
        case .brokerSlow: "broker \(target) +\(roundTripMilliseconds) ms for \(holdMilliseconds) ms"
        case .fsyncFailure: "ingest #\(target), fsync #\(failingOperation)"
        case .writeFailure, .shortWrite, .diskFull: "ingest #\(target), write #\(failingOperation)"
        case .tornTail: "ingest #\(target), \(tornBytes) bytes of \(tornLooksLikeFrame ? "partial frame" : "noise")"
        case .archiveCorrupted: "archive of ingest #\(target), one byte of a segment object"
        case .archiveDown: "archive of ingest #\(target) for \(holdMilliseconds) ms"
        case .ledgerLost: "ingest #\(target): kill -9, ledger gone, restore, rebuild the warehouse, restart"
        }
    }

    /// The `--inject-fault` specification of a file fault.
    var injectionSpecification: String? {
        guard let fault = kind.fileFault else { return nil }
        return fault == "fsync" ? "fsync=\(failingOperation)" : "write=\(failingOperation),write-fault=\(fault)"
    }
}

/// Draws the whole schedule from the seed before anything runs, so a seed replays the same faults, in the same
/// order, with the same parameters (only the exact moments depend on how fast the machine is).
struct FaultSchedule {
    private(set) var faults: [PlannedFault] = []
    private var random: SplitMix64
    private let instances: Int

    init(profile: CampaignProfile, faults count: Int, instances: Int, seed: UInt64) {
        random = SplitMix64(seed: seed)
        self.instances = instances
        var kinds = FaultKind.allCases.flatMap { Array(repeating: $0, count: profile.minimumPerKind) }
        let weighted = FaultKind.allCases.flatMap { Array(repeating: $0, count: $0.weight) }
        while kinds.count < count { kinds.append(weighted[random.next(below: weighted.count)]) }
        kinds.shuffle(using: &random)
        var clock = 1.0
        for kind in kinds.prefix(max(count, 1)) {
            clock += random.nextDouble() * 2 * profile.meanFaultGapSeconds
            faults.append(draw(kind, at: clock))
            clock += kind.typicalSeconds
        }
    }

    /// Seconds the schedule spans: the load is spread over it.
    var windowSeconds: Double { (faults.last?.at ?? 0) + (faults.last?.kind.typicalSeconds ?? 0) }

    /// A fault that could not take effect (an armed ingest that never wrote) is drawn again, later.
    mutating func retry(_ kind: FaultKind, after seconds: Double) -> PlannedFault {
        let fault = draw(kind, at: seconds)
        faults.append(fault)
        return fault
    }

    private mutating func draw(_ kind: FaultKind, at seconds: Double) -> PlannedFault {
        let choice = BrokerErrorChoice.all[random.next(below: BrokerErrorChoice.all.count)]
        let target =
            switch kind {
            case .brokerDown, .brokerSlow: random.next(in: 1...ChaosLimits.brokers)
            default: random.next(below: instances)
            }
        return PlannedFault(
            number: faults.count + 1, at: seconds, kind: kind, target: target,
            holdMilliseconds: [.brokerDown, .brokerSlow, .archiveDown].contains(kind)
                ? random.next(in: 500...3_000) : random.next(in: 0...1_500),
            failingOperation: random.next(in: 1...12), brokerError: choice, errorCount: random.next(in: choice.counts),
            roundTripMilliseconds: random.next(in: 100...800), tornBytes: random.next(in: ChaosLimits.tornTailBytes),
            tornLooksLikeFrame: random.next(below: 2) == 0)
    }
}
