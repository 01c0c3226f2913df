import Foundation

/// The load: one producer sending the campaign's messages at a steady rate across the fault window, plus small
/// nudges when an armed file fault waits for data. Every run of `ledger-tool produce --record` writes what the
/// broker acknowledged (partition, offset, the generator's intent, the value): the oracle's only input.
final class LoadGenerator {
    private(set) var recordFiles: [String] = []
    private(set) var messagesRequested = 0
    private(set) var runs: [ChildProcess] = []
    private let environment: CampaignEnvironment
    private let brokers: String
    private var seeds: SplitMix64

    init(environment: CampaignEnvironment, brokers: String, seed: UInt64) {
        self.environment = environment
        self.brokers = brokers
        seeds = SplitMix64(seed: seed ^ 0x5EED_10AD)
    }

    /// The main load: `messages` at `rate` per second.
    func start(messages: Int, rate: Double) throws {
        try produce(messages: messages, rate: rate, label: "load")
    }

    /// A few messages at once, so an ingest armed with a file fault has something to write. False (nothing sent)
    /// once the broker's retention bound is reached.
    func nudge() throws -> Bool {
        guard messagesRequested + ChaosLimits.nudgeMessages <= ChaosLimits.messagesMax else { return false }
        try produce(messages: ChaosLimits.nudgeMessages, rate: 0, label: "nudge-\(runs.count)")
        return true
    }

    var isProducing: Bool { runs.contains { $0.isRunning } }

    /// Waits for every run; the runs that did not exit 0, with their status (nil: did not finish in time).
    func finish(timeoutSeconds: Double) -> [(name: String, status: Int32?)] {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var failures: [(String, Int32?)] = []
        for run in runs {
            let status = run.waitForExit(timeoutSeconds: max(1, deadline.timeIntervalSinceNow)) ?? run.stopGracefully()
            if status != 0 { failures.append((run.name, status)) }
        }
        return failures
    }

    private func produce(messages: Int, rate: Double, label: String) throws {
        let record = environment.work + "/produced-\(label).jsonl"
        let arguments = [
            "produce", "--brokers", brokers, "--count", "\(messages)", "--rate", "\(rate)",
            "--invalid-ratio", "\(ChaosLimits.invalidRatio)", "--duplicate-ratio", "\(ChaosLimits.duplicateRatio)",
            "--seed", "\(seeds.next() >> 1)", "--fixed-clock", "--record", record,
            // A broker down for a while must delay a message, never fail it: the oracle counts acknowledged ones.
            "-X", "message.timeout.ms=600000",
        ]
        runs.append(try ChildProcess(name: "producer \(label)", executable: environment.ledgerTool, arguments: arguments,
                                     logPath: environment.work + "/producer.log"))
        recordFiles.append(record)
        messagesRequested += messages
    }
}
