import Foundation
import LedgerTesting
import Testing

/// docs/CLI.md and the binaries' `--help` say the same (issue 13: the README had drifted from the binaries). Each
/// `ledger-tool` row of docs/CLI.md names exactly the options its command's `--help` lists; every option of
/// `ledger-ingest` and `ledger-projector` is documented (CLI.md and WAREHOUSE.md respectively).
@Suite struct CLIDocumentationTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs")

    @Test func eachLedgerToolRowNamesExactlyTheOptionsOfItsHelp() throws {
        let rows = try String(contentsOf: Self.docs.appendingPathComponent("CLI.md"), encoding: .utf8)
            .split(separator: "\n").filter { $0.hasPrefix("| `ledger-tool ") }
        #expect(rows.count >= 12, "docs/CLI.md lists the ledger-tool commands")
        let tool = try BuiltProducts.path(of: "ledger-tool")
        for row in rows {
            // The synopsis is the row's first code span (it may hold escaped pipes, `LSN\|TIMESTAMP`).
            let synopsis = String(row.split(separator: "`", omittingEmptySubsequences: false)[1])
                .replacingOccurrences(of: "\\|", with: "|")
            let words = synopsis.split(separator: " ").dropFirst().prefix { $0.first?.isLowercase == true }.map(
                String.init)
            for command in Self.alternatives(words) {
                let help = try Self.help(tool, command)
                #expect(
                    Self.longOptions(in: synopsis) == Self.longOptions(inHelp: help),
                    "docs/CLI.md `ledger-tool \(command.joined(separator: " "))` vs its --help")
            }
        }
    }

    @Test func everyServiceOptionIsDocumented() throws {
        for (product, document) in [("ledger-ingest", "CLI.md"), ("ledger-projector", "WAREHOUSE.md")] {
            let text = try String(contentsOf: Self.docs.appendingPathComponent(document), encoding: .utf8)
            let help = try Self.help(try BuiltProducts.path(of: product), [])
            for option in Self.longOptions(inHelp: help) {
                #expect(text.contains(option), "\(product) \(option) is not in docs/\(document)")
            }
        }
    }

    /// `dlq list|replay` stands for two commands.
    private static func alternatives(_ words: [String]) -> [[String]] {
        guard let last = words.last, last.contains("|") else { return [words] }
        return last.split(separator: "|").map { Array(words.dropLast()) + [String($0)] }
    }

    private static func help(_ binary: String, _ command: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = command + ["--help"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: output, as: UTF8.self)
    }

    /// The long options of a synopsis such as `ledger-tool verify --wal DIR [--json]`.
    private static func longOptions(in synopsis: String) -> Set<String> {
        Set(synopsis.matches(of: /--[a-z][a-z0-9-]*/).map { String($0.output) })
    }

    /// The long options of the OPTIONS section of `--help` (not --help and --version, which every command has).
    private static func longOptions(inHelp help: String) -> Set<String> {
        let options = help.components(separatedBy: "OPTIONS:").dropFirst().joined()
        let names = options.split(separator: "\n").compactMap { line -> String? in
            line.firstMatch(of: /^\s+(?:-[A-Za-z], )?(--[a-z][a-z0-9-]*)/).map { String($0.output.1) }
        }
        return Set(names).subtracting(["--help", "--version"])
    }
}
