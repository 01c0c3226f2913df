import Foundation
import Ledger
import Testing

/// `ledger-tool import`, run as the binary an operator runs.
@Suite struct ImportTests {
    /// Runs `ledger-tool import --wal LEDGER FILE` (FILE "-" reads `input`); returns the exit status.
    private func runImport(_ ledger: String, _ file: String, input: Data? = nil) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: productsDirectory + "/ledger-tool")
        process.arguments = ["import", "--wal", ledger, file]
        let stdin = Pipe()
        process.standardInput = stdin
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        return process.terminationStatus
    }

    private func lines(_ numbers: Range<Int>) -> Data {
        let text = numbers.map { number in
            #"{"order_id":"\#(String(format: "%08x", number))-0000-4000-8000-000000000000","amount":1.00,"currency":"USD","timestamp":"2024-01-15T10:30:00Z","customer_id":"c","product_category":"books"}"#
        }.joined(separator: "\n")
        return Data((text + "\n").utf8)
    }

    /// Issue 11: files were identified by their base name, so `d2/batch.jsonl` after `d1/batch.jsonl` skipped every
    /// line of the second (exit 0), and a second import from standard input skipped its first lines. The content
    /// is now the identity: other content is imported whatever its name, the same content never twice.
    @Test func importIdentifiesAFileByItsContentNotItsName() throws {
        let scratch = Scratch()
        let ledger = scratch.path + "/ledger"
        for (directory, numbers) in [("d1", 0..<5), ("d2", 5..<8)] {
            try FileManager.default.createDirectory(atPath: scratch.path + "/" + directory, withIntermediateDirectories: true)
            try lines(numbers).write(to: URL(fileURLWithPath: scratch.path + "/\(directory)/batch.jsonl"))
        }
        #expect(try runImport(ledger, scratch.path + "/d1/batch.jsonl") == 0)
        #expect(try runImport(ledger, scratch.path + "/d2/batch.jsonl") == 0)
        #expect(try runImport(ledger, "-", input: lines(8..<10)) == 0)
        #expect(try runImport(ledger, "-", input: lines(10..<14)) == 0)
        #expect(try ledgerEntries(ledger).filter { $0.record.kind == .accepted }.count == 14)
        // The same file again (same name, same content), from another directory or through standard input:
        // nothing new. Renamed, it is another source: its lines are recorded again, as duplicates of their orders.
        try FileManager.default.createDirectory(atPath: scratch.path + "/d3", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: scratch.path + "/d1/batch.jsonl", toPath: scratch.path + "/d3/batch.jsonl")
        #expect(try runImport(ledger, scratch.path + "/d3/batch.jsonl") == 0)
        #expect(try runImport(ledger, "-", input: lines(10..<14)) == 0)
        #expect(try LedgerReader(directory: ledger).durableLSN() == 14)
        try FileManager.default.copyItem(atPath: scratch.path + "/d1/batch.jsonl", toPath: scratch.path + "/renamed.jsonl")
        #expect(try runImport(ledger, scratch.path + "/renamed.jsonl") == 0)
        #expect(try ledgerEntries(ledger).dropFirst(14).map(\.record.kind) == Array(repeating: .duplicate, count: 5))
    }
}
