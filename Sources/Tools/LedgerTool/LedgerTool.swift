import ArgumentParser
import Foundation
import Ledger
import ServiceKit

struct LedgerTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-tool",
        abstract: "Operate a Pulse Ledger: import, inspect, verify and rebuild the write-ahead log.",
        subcommands: [
            ImportCommand.self, GenerateCommand.self, DeadLetterCommand.self, DevBrokerCommand.self,
            ProduceCommand.self, TraceCommand.self, InspectCommand.self, VerifyCommand.self, StatsCommand.self,
            StatusCommand.self, ArchiveCommand.self, RestoreCommand.self, RetainCommand.self,
            RebuildCommand.self, MigrateCommand.self,
        ])
}

/// The `--wal DIR` option shared by every command that works on a ledger directory.
struct LedgerDirectoryOptions: ParsableArguments {
    @Option(
        name: .customLong("wal"),
        help: ArgumentHelp(
            "The ledger directory, segments and index (env LEDGER_WAL_DIR; default ./ledger).", valueName: "DIR"))
    var directoryOption: String?

    var directory: String { directoryOption ?? Self.defaultLedgerDirectory }

    /// LEDGER_WAL_DIR (its first directory, when it lists several), else ./ledger.
    static var defaultLedgerDirectory: String { Settings.current.list("LEDGER_WAL_DIR")?.first ?? "./ledger" }
}

/// Number formatting for people: 1234567 → "1,234,567".
func grouped<Number: BinaryInteger>(_ value: Number) -> String {
    let digits = String(value.magnitude)
    var result = ""
    for (index, digit) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { result += "," }
        result.append(digit)
    }
    return (value < 0 ? "-" : "") + result
}

func decimal(_ value: Double, digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }

/// Writes `text` to standard error (diagnostics never mix with machine-readable output on stdout).
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
