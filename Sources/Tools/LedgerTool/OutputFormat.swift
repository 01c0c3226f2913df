import ArgumentParser
import Foundation
import KafkaClient
import MessageSchema
import ServiceKit

/// How a command prints its result: text for people, or JSON (one documented schema per command, docs/CLI.md).
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// `-o json|text`; `--json` stays as a hidden alias of `-o json` for the commands that had it.
struct OutputFormatOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format.")
    var output: OutputFormat = .text
    @Flag(name: .customLong("json"), help: .hidden) var jsonAlias = false

    var format: OutputFormat { jsonAlias ? .json : output }
    var isJSON: Bool { format == .json }
}

/// Prints `value` as one line of JSON (snake-case keys, sorted): a result object, or one element of a list,
/// which goes out as newline-delimited JSON, one element per line.
func printJSONLine<Value: Encodable>(_ value: Value) throws {
    let encoder = stableJSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

extension UnknownFieldPolicy: ExpressibleByArgument {}

/// How a command reaches Kafka: `--brokers`, then a properties file (`-F`, as kcat's), then `KAFKA_PROPERTIES`,
/// then `-X`: the most specific wins. Settings come from the one configuration layer (`Settings`), never shown
/// in --help.
struct KafkaClientOptions: ParsableArguments {
    @Option(help: "Kafka bootstrap servers (env KAFKA_BROKERS; default 127.0.0.1:9092).") var brokers: String?
    @Option(
        name: .customShort("X"), help: ArgumentHelp("A librdkafka property (repeatable).", valueName: "key=value"))
    var clientProperties: [String] = []
    @Option(
        name: [.customShort("F"), .customLong("kafka-properties-file")],
        help: ArgumentHelp(
            "A librdkafka properties file, one key=value per line, as kcat -F reads it (env KAFKA_PROPERTIES_FILE).",
            valueName: "FILE"))
    var propertiesFile: String?

    func validate() throws { _ = try properties([:]) }

    /// `base` (the command's own defaults), overridden by the file, KAFKA_PROPERTIES and -X. The brokers: --brokers,
    /// else KAFKA_BROKERS, else the properties' bootstrap.servers, else 127.0.0.1:9092.
    func properties(_ base: [String: String]) throws -> [String: String] {
        var properties = base
        properties.merge(try KafkaProperties.layered(file: propertiesFile, arguments: clientProperties)) { $1 }
        properties["bootstrap.servers"] =
            brokers ?? Settings.current.string("KAFKA_BROKERS") ?? properties["bootstrap.servers"] ?? "127.0.0.1:9092"
        return properties
    }
}

/// Prints `ledger-tool status`: text or one JSON object; with `redrawsInPlace` (a terminal, --watch) each
/// refresh replaces the last on screen, otherwise refreshes follow each other as plain blocks or JSON lines.
struct StatusView {
    var format: OutputFormat
    var redrawsInPlace: Bool

    /// ANSI: cursor home, then clear the screen.
    static let clearScreen = "\u{1B}[H\u{1B}[2J"

    func show(_ status: PipelineStatus) {
        switch format {
        case .json:
            try? printJSONLine(status)
        case .text:
            print((redrawsInPlace ? Self.clearScreen : "") + Self.text(status))
        }
        fflush(nil)  // every stream: a watcher reads each refresh as it comes, not when a buffer fills
    }

    static func text(_ status: PipelineStatus) -> String {
        var lines = ["Pulse Ledger status at \(status.time)" + rateNote(status.rateSeconds)]
        if let kafka = status.kafka {
            lines.append(
                "kafka \(kafka.brokers) topic \(kafka.topic): \(kafka.partitions) partitions, high watermarks \(grouped(kafka.highWatermarkTotal)) in all"
            )
        }
        for ledger in status.ledgers { lines += ledgerLines(ledger) }
        if !status.unrecordedPartitions.isEmpty {
            lines.append("partitions no ledger has recorded yet:")
            lines += partitionTable(status.unrecordedPartitions)
        }
        lines += status.problems.map { "problem: \($0)" }
        return lines.joined(separator: "\n")
    }

    private static func rateNote(_ seconds: Double) -> String {
        seconds > 0 ? " (rates over \(decimal(seconds, digits: 1)) s)" : ""
    }

    private static func ledgerLines(_ ledger: PipelineStatus.LedgerSide) -> [String] {
        var lines = [
            "ledger \(ledger.ledgerId) \(ledger.directory)",
            "  durable LSN \(grouped(ledger.durableLsn))\(perSecond(ledger.recordsPerSecond)), dead letters \(grouped(ledger.deadLetters)), disk used \(bytes(ledger.diskUsedBytes)), free \(ledger.diskFreeBytes.map(bytes) ?? "unknown")",
        ]
        if let warehouse = ledger.warehouse {
            lines.append(
                "  warehouse checkpoint LSN \(grouped(warehouse.checkpointLsn))\(perSecond(warehouse.recordsPerSecond)): \(grouped(warehouse.lagRecords)) records behind, oldest waiting \(decimal(warehouse.lagSeconds, digits: 1)) s"
            )
            if warehouse.checkpointPastLedger == true {
                lines.append(
                    "  the warehouse checkpoint is past the ledger's durable LSN: the ledger was restored or replaced; rebuild the warehouse from it (ledger-tool rebuild warehouse)"
                )
            }
        }
        return lines + partitionTable(ledger.partitions)
    }

    private static func partitionTable(_ partitions: [PipelineStatus.PartitionSide]) -> [String] {
        let header = ["  partition", "kafka high", "ledger next", "lag", "lag s", "msgs/s"]
        let rows = partitions.map { partition in
            [
                "  \(partition.topic)/\(partition.partition)", partition.kafkaHighWatermark.map(grouped) ?? "-",
                partition.ledgerNextOffset.map(grouped) ?? "-", partition.lagMessages.map(grouped) ?? "-",
                partition.lagSeconds.map { decimal($0, digits: 1) }
                    ?? (partition.lagMessages ?? 0 > 0 ? "stalled" : "-"),
                partition.messagesPerSecond.map { grouped(Int($0)) } ?? "-",
            ]
        }
        return aligned([header] + rows)
    }

    /// Columns padded to their widest cell: the first left-aligned, the numbers right-aligned.
    private static func aligned(_ rows: [[String]]) -> [String] {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + padding : padding + cell
            }.joined(separator: "  ")
        }
    }

    private static func perSecond(_ rate: Double?) -> String {
        rate.map { " (+\(grouped(Int($0)))/s)" } ?? ""
    }

    private static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : "\(decimal(value, digits: 1)) \(units[unit])"
    }
}
