import ArgumentParser
import Foundation
import Ledger
import LedgerTesting

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Print the original producer's stream as JSON lines (reproducible from --seed).",
        discussion: "A Kafka null value cannot be a line: with --invalid-ratio, null values are written as empty lines."
    )

    @Option(help: "How many messages.") var count: Int = 1000
    @Option(help: "Fraction of invalid messages (0...1).") var invalidRatio: Double = 0
    @Option(
        help: "Fraction of repeated order_ids (0...1): half recent, half from anywhere earlier; a quarter conflict.")
    var duplicateRatio: Double = 0
    @Option(help: "Seed of the random stream.") var seed: UInt64 = 1

    func validate() throws {
        guard count >= 0 else { throw ValidationError("--count must be zero or more") }
        guard (0...1).contains(invalidRatio), (0...1).contains(duplicateRatio), invalidRatio + duplicateRatio <= 1
        else {
            throw ValidationError(
                "--invalid-ratio and --duplicate-ratio are fractions from 0 to 1 whose sum is at most 1")
        }
    }

    func run() throws {
        var generator = MessageGenerator(seed: seed, invalidRatio: invalidRatio, duplicateRatio: duplicateRatio)
        var output = [UInt8]()
        output.reserveCapacity(1 << 20)
        for _ in 0..<count {
            output += generator.next().value ?? []
            output.append(0x0A)
            if output.count >= 1 << 20 {
                FileHandle.standardOutput.write(Data(output))
                output.removeAll(keepingCapacity: true)
            }
        }
        FileHandle.standardOutput.write(Data(output))
    }
}
