import ArgumentParser
import Foundation
import Ingest
import KafkaClient
import Ledger
import Logging
import MessageSchema
import OperatingErrors

struct DeadLetterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq", abstract: "Dead letters, as the ledger recorded them: list them, replay them after a fix.",
        subcommands: [DeadLetterListCommand.self, DeadLetterReplayCommand.self])
}

/// The refused records of a ledger (rejected and conflicting messages), optionally only one reason.
private func deadLetters(_ directory: String, reason: String?) throws -> [LedgerEntry] {
    let cursor = try LedgerReader(directory: directory).cursor()
    var found: [LedgerEntry] = []
    while true {
        let batch = try cursor.next(maxRecords: 8192)
        if batch.isEmpty { return found }
        for entry in batch {
            switch entry.record.body {
            case .rejected(let rejected) where reason == nil || rejected.rejection.reason.code == reason:
                found.append(entry)
            case .conflict where reason == nil || reason == RejectReason.conflictingDuplicate.code: found.append(entry)
            default: continue
            }
        }
    }
}

/// A misspelled --reason would silently choose nothing: refuse it, listing the codes.
private func validateReasonCode(_ reason: String?) throws {
    if let reason, RejectReason(code: reason) == nil {
        throw ValidationError(
            "unknown reason code \(reason); codes: \(RejectReason.allCases.map(\.code).joined(separator: ", "))")
    }
}

private func reasonCode(_ record: Record) -> String {
    if case .rejected(let rejected) = record.body { return rejected.rejection.reason.code }
    return RejectReason.conflictingDuplicate.code
}

struct DeadLetterListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Dead letters by reason; with --reason, each one.")

    @OptionGroup var ledger: LedgerDirectoryOptions
    @Option(help: "Only this reason code (e.g. unknown_currency); lists every message.") var reason: String?
    @OptionGroup var output: OutputFormatOptions

    /// One line of `dlq list -o json` without --reason.
    struct ReasonCount: Encodable {
        var reason: String
        var count: Int
    }

    func validate() throws { try validateReasonCode(reason) }

    func run() throws {
        let letters = try deadLetters(ledger.directory, reason: reason)
        guard reason != nil else {
            let counts = Dictionary(grouping: letters, by: { reasonCode($0.record) }).mapValues(\.count)
            for (code, count) in counts.sorted(by: { $0.key < $1.key }) {
                if output.isJSON {
                    try printJSONLine(ReasonCount(reason: code, count: count))
                } else {
                    print("\(code.padding(toLength: 26, withPad: " ", startingAt: 0)) \(grouped(count))")
                }
            }
            if !output.isJSON {
                print("\("total".padding(toLength: 26, withPad: " ", startingAt: 0)) \(grouped(letters.count))")
            }
            return
        }
        for letter in letters {
            let description = RecordDescription(lsn: letter.lsn, letter.record)
            if output.isJSON { try printJSONLine(description) } else { print(description.summary) }
        }
    }
}

struct DeadLetterReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract:
            "Re-validate chosen dead letters with this build's validator and produce the ones now valid to the topic again.",
        discussion: """
            For after a fix (a new validator version, a corrected reference list). Each chosen rejected message is \
            validated again from the raw bytes the ledger kept; those that pass are produced to the topic, where \
            ledger-ingest records them like any message. A replay never creates a duplicate: an order already \
            accepted is recorded as a duplicate (same content) or a conflict, never as a second transaction. \
            Messages the ledger kept truncated (over 64 KiB) are never replayed.
            """)

    @OptionGroup var ledger: LedgerDirectoryOptions
    @OptionGroup var kafka: KafkaClientOptions
    @Option(help: "Topic to produce to.") var topic = "transactions"
    @Option(help: "Only dead letters with this reason code.") var reason: String?
    @Option(parsing: .upToNextOption, help: "Only these LSNs.") var lsn: [UInt64] = []
    @Flag(help: "Show what would be replayed without producing anything.") var dryRun = false
    @Option(
        help: ArgumentHelp(
            "Judge the dead letters as ledger-ingest --unknown-fields does now: after switching it to ignore, the unknown_field letters become valid.",
            valueName: "reject|ignore|keep"))
    var unknownFields: UnknownFieldPolicy = .reject
    @OptionGroup var output: OutputFormatOptions

    func validate() throws {
        try validateReasonCode(reason)
    }

    func run() throws {
        let chosen = try deadLetters(ledger.directory, reason: reason).filter { lsn.isEmpty || lsn.contains($0.lsn) }
        var replayable: [(LedgerEntry, [UInt8])] = []
        var stillInvalid = 0
        for entry in chosen {
            guard case .rejected(let rejected) = entry.record.body, let raw = rejected.rawBytes,
                raw.count == rejected.originalByteCount
            else { continue }
            switch MessageValidator.validate(raw, unknownFields: unknownFields) {
            case .success: replayable.append((entry, raw))
            case .failure: stillInvalid += 1
            }
        }
        var report = ReplayReport(
            topic: topic, chosen: chosen.count, nowValid: replayable.count, stillInvalid: stillInvalid,
            notReplayable: chosen.count - replayable.count - stillInvalid, replayed: 0, dryRun: dryRun)
        if !output.isJSON {
            print(
                "chosen \(report.chosen), now valid \(report.nowValid), still invalid \(stillInvalid), not replayable (conflicts, truncated or null) \(report.notReplayable)"
            )
        }
        guard !dryRun, !replayable.isEmpty else { return try printIfJSON(report) }
        let properties = try kafka.properties(["acks": "all", "enable.idempotence": "true"])
        let producer = try KafkaProducer(
            properties: properties,
            logger: Logger(label: "dlq-replay", factory: { StreamLogHandler.standardError(label: $0) }))
        for (entry, raw) in replayable {
            try producer.produce(
                topic: topic, key: entry.record.source.key, value: raw,
                // The message's own headers as the ledger kept them (trace context), then where it is replayed from.
                headers: Self.ownHeaders(entry.record) + [
                    ("replay.of.lsn", Array(String(entry.lsn).utf8)),
                    (
                        "replay.of.offset",
                        Array(
                            "\(entry.record.source.topic)/\(entry.record.source.partition)@\(entry.record.source.offset)"
                                .utf8)
                    ),
                ])
        }
        try producer.flush(timeoutMilliseconds: 60_000)
        report.replayed = replayable.count
        if !output.isJSON { print("replayed \(replayable.count) messages to \(topic), all acknowledged") }
        try printIfJSON(report)
    }

    private static func ownHeaders(_ record: Record) -> [(String, [UInt8])] {
        record.source.headers.map { header -> (String, [UInt8]) in
            (String(decoding: header.name, as: UTF8.self), header.value ?? [])
        }
    }

    private func printIfJSON(_ report: ReplayReport) throws {
        if output.isJSON { try printJSONLine(report) }
    }
}
