import Foundation
import LedgerTesting
import Testing

/// Issue 13: each ledger-tool command's `-o json` output is one documented schema (docs/CLI.md): one object, or
/// newline-delimited JSON for lists, and nothing else on standard output. The outputs for a fixed input are kept in
/// Tests/Golden; values that change from run to run (ids, paths, times, compressed sizes) are masked first.
/// `UPDATE_GOLDEN=1 swift test --filter JSONOutputGolden` rewrites them after a deliberate change: review the diff.
@Suite struct JSONOutputGoldenTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Golden")

    /// Keys whose values differ between runs of the same commands on the same input.
    static let volatileKeys: Set<String> = [
        "ledger_id", "directory", "path", "time", "first_ingest_time", "last_ingest_time", "ingest_time", "seconds",
        "created_at", "disk_free_bytes", "disk_used_bytes", "index_bytes", "segment_bytes", "bytes_per_record",
        "stored_bytes", "file_bytes", "crc", "ratio", "digest", "previous_digest", "location", "offset_in_file",
    ]

    @Test func eachCommandPrintsItsDocumentedJSON() throws {
        let scratch = ScratchDirectory()
        let input = scratch.file("orders.jsonl")
        let generated = try ProductRun(
            "ledger-tool",
            ["generate", "--count", "300", "--invalid-ratio", "0.1", "--duplicate-ratio", "0.05", "--seed", "11"])
        try generated.output.write(toFile: input, atomically: true, encoding: .utf8)
        let ledger = scratch.file("ledger")
        let firstOrder = try #require(generated.output.firstMatch(of: /"order_id": "([0-9a-f-]{36})"/)?.output.1)
        let commands: [(name: String, arguments: [String])] = [
            ("import", ["import", "--wal", ledger, input]),
            ("stats", ["stats", "--wal", ledger]),
            ("verify", ["verify", "--wal", ledger]),
            ("dlq-list", ["dlq", "list", "--wal", ledger]),
            ("dlq-list-reason", ["dlq", "list", "--wal", ledger, "--reason", "unknown_currency"]),
            ("dlq-replay-dry-run", ["dlq", "replay", "--wal", ledger, "--dry-run"]),
            ("trace", ["trace", String(firstOrder), "--wal", ledger, "--all"]),
            ("inspect-segment", ["inspect", "segment", ledger + "/00000000000000000001.seg"]),
            ("status", ["status", "--wal", ledger, "--no-kafka", "--sample-seconds", "0"]),
            ("rebuild-index", ["rebuild", "index", "--wal", ledger]),
            ("generate", ["generate", "--count", "5", "--invalid-ratio", "0.6", "--seed", "3"]),
        ]
        for (name, arguments) in commands {
            let run = try ProductRun("ledger-tool", arguments + ["-o", "json"])
            #expect(run.status == 0, "\(name): \(run.errors)")
            let lines = try run.output.split(separator: "\n").map { line in
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
                return try Self.canonical(Self.masked(object))
            }
            #expect(!lines.isEmpty, "\(name) printed nothing")
            try Self.compare(lines.joined(separator: "\n") + "\n", golden: name)
        }
    }

    private static func compare(_ text: String, golden name: String) throws {
        let file = golden.appendingPathComponent(name + ".jsonl")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try text.write(to: file, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(text == expected, "ledger-tool \(name) -o json differs from Tests/Golden/\(name).jsonl:\n\(text)")
    }

    private static func masked(_ value: Any) -> Any {
        if let object = value as? [String: Any] {
            return Dictionary(
                uniqueKeysWithValues: object.map { key, value in
                    (key, volatileKeys.contains(key) ? "<varies>" : masked(value))
                })
        }
        if let array = value as? [Any] { return array.map(masked) }
        return value
    }

    private static func canonical(_ value: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
