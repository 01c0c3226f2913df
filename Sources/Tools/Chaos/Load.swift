import DeliveryRecord
import Foundation

/// The load: one producer sending the campaign's messages at a steady rate across the fault window, plus small
/// nudges when an armed file fault waits for data. Every run of `ledger-tool produce --record` writes what the
/// broker acknowledged (partition, offset, the generator's intent, the value): the oracle takes what each message
/// was meant to be from it, and checks it against what the topic holds.
final class LoadGenerator {
    private(set) var recordFiles: [String] = []
    private(set) var messagesRequested = 0
    private(set) var runs: [ChildProcess] = []
    private let environment: CampaignEnvironment
    private let brokers: String
    private var seeds: SplitMix64

    private var copyChoices: SplitMix64

    init(environment: CampaignEnvironment, brokers: String, seed: UInt64) {
        self.environment = environment
        self.brokers = brokers
        seeds = SplitMix64(seed: seed ^ 0x5EED_10AD)
        copyChoices = SplitMix64(seed: seed ^ 0xC0_B1E5)
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

    /// Writes `count` messages the producer was acknowledged for so far again, each into its own partition, with
    /// kcat (not the project's client): what a broker does with a retried produce it had already written. The
    /// development broker does it by itself now and then while requests fail; these copies make sure every run
    /// has some, for ingest to take as repeats of the first copy. Returns how many were written.
    func writeCopies(count: Int, kcat: String) throws -> Int {
        guard let record = recordFiles.first, let data = FileManager.default.contents(atPath: record) else { return 0 }
        // The record is being written: only its complete lines.
        let complete = data[data.startIndex..<(data.lastIndex(of: 0x0A) ?? data.startIndex)]
        let candidates = try complete.split(separator: 0x0A).map { try DeliveryRecordLine.decode($0, in: record) }
            .filter { !($0.decodedValue?.isEmpty ?? true) }
        guard !candidates.isEmpty else { return 0 }
        for copy in 0..<count {
            let line = candidates[copyChoices.next(below: candidates.count)]
            // kcat sends a file named on its command line as one message, byte for byte, with the key of -k (the
            // producer's keys are decimal sequence numbers, so they pass as an argument unchanged).
            let path = environment.work + "/copy-\(copy).bin"
            try line.decodedValue!.write(to: URL(fileURLWithPath: path))
            let key = line.decodedKey.map { ["-k", String(decoding: $0, as: UTF8.self)] } ?? []
            _ = try Command.output(
                kcat, ["-P", "-b", brokers, "-t", ChaosLimits.topic, "-p", "\(line.partition)", "-q"] + key + [path],
                timeoutSeconds: ChaosLimits.copyWriteTimeoutSeconds)
        }
        return count
    }

    private func produce(messages: Int, rate: Double, label: String) throws {
        let record = environment.work + "/produced-\(label).jsonl"
        let arguments = [
            "produce", "--brokers", brokers, "--count", "\(messages)", "--rate", "\(rate)",
            "--invalid-ratio", "\(ChaosLimits.invalidRatio)", "--duplicate-ratio", "\(ChaosLimits.duplicateRatio)",
            "--seed", "\(seeds.next() >> 1)", "--fixed-clock", "--record", record,
            // A broker down for a while must delay a message, never fail it: every message must be acknowledged.
            "-X", "message.timeout.ms=600000",
            // Not idempotent: the development broker does not check an idempotent producer's sequence numbers
            // (librdkafka's mock cluster does for transactional producers only), yet the producer trusts that it
            // does: when a request fails and a later one succeeds, it reports the earlier messages delivered
            // without an offset, and the broker may never have stored them (seed 39076022: two messages). Without
            // idempotence every acknowledgement names the offset the broker wrote; a retried produce may be
            // written twice, which the oracle sees in the topic.
            "-X", "enable.idempotence=false",
            "-X", "linger.ms=\(ChaosLimits.producerLingerMilliseconds)",
        ]
        runs.append(
            try ChildProcess(
                name: "producer \(label)", executable: environment.ledgerTool, arguments: arguments,
                logPath: environment.work + "/producer.log"))
        recordFiles.append(record)
        messagesRequested += messages
    }
}

extension DeliveryRecordLine {
    static func decode(_ line: Data.SubSequence, in path: String) throws -> DeliveryRecordLine {
        do {
            return try JSONDecoder().decode(DeliveryRecordLine.self, from: line)
        } catch {
            throw CampaignError(
                "\(path): a line that is not a delivery record (\(error)): \(String(decoding: line.prefix(200), as: UTF8.self))"
            )
        }
    }
}
