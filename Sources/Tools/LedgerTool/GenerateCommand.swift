import ArgumentParser
import Foundation
import Ledger
import LedgerTesting

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Print the original producer's stream as JSON lines (reproducible from --seed).",
        discussion: """
            Text (the default) prints each message value as one line, as import reads them; a Kafka null value cannot \
            be a line, so null values are written as empty lines. -o json prints one object per message instead: \
            {"value": text} for a value that is UTF-8 without a line break, {"value_base64": …} for any other, \
            {"value": null} for a null value.
            """
    )

    @Option(help: "How many messages.") var count: Int = 1000
    @Option(help: "Fraction of invalid messages (0...1).") var invalidRatio: Double = 0
    @Option(
        help: "Fraction of repeated order_ids (0...1): half recent, half from anywhere earlier; a quarter conflict.")
    var duplicateRatio: Double = 0
    @Option(help: "Seed of the random stream.") var seed: UInt64 = 1
    @OptionGroup var output: OutputFormatOptions

    /// One line of `generate -o json`.
    struct GeneratedMessage: Encodable {
        var value: String?
        var valueBase64: String?

        init(_ bytes: [UInt8]?) {
            guard let bytes else { return }
            if let text = String(validating: bytes, as: UTF8.self), !text.contains("\n") {
                value = text
            } else {
                valueBase64 = Data(bytes).base64EncodedString()
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            if let valueBase64 {
                try container.encode(valueBase64, forKey: .valueBase64)
            } else {
                try container.encode(value, forKey: .value)  // null for a Kafka null value
            }
        }

        private enum CodingKeys: String, CodingKey {
            case value
            case valueBase64 = "value_base64"
        }
    }

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
        if self.output.isJSON {
            for _ in 0..<count { try printJSONLine(GeneratedMessage(generator.next().value)) }
            return
        }
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
