import Foundation

/// `ledger-tool dev-broker` (a Kafka-protocol cluster on real TCP ports) as a child process, driven through its
/// standard input; `bootstrap` is the address it printed.
public final class DevBroker {
    public let process = Process()
    public let bootstrap: String
    private let input = Pipe()
    private let output = Pipe()
    private var lines: [String] = []

    public init(partitions: Int, brokers: Int = 1, port: Int? = nil) throws {
        process.executableURL = URL(fileURLWithPath: try BuiltProducts.path(of: "ledger-tool"))
        process.arguments =
            ["dev-broker", "--partitions", "\(partitions)", "--brokers", "\(brokers)"]
            + (port.map { ["--port", "\($0)"] } ?? [])
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var first = ""
        while !first.hasSuffix("\n") {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            guard !byte.isEmpty else { throw TestFailure("dev-broker exited before printing its address") }
            first += String(decoding: byte, as: UTF8.self)
        }
        bootstrap = first.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
    }

    /// Sends one fault-injection command and waits for "ok".
    public func command(_ text: String) throws {
        input.fileHandleForWriting.write(Data((text + "\n").utf8))
        var answer = ""
        while !answer.hasSuffix("\n") {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            guard !byte.isEmpty else { break }
            answer += String(decoding: byte, as: UTF8.self)
        }
        guard answer.hasPrefix("ok") else { throw TestFailure("dev-broker refused \(text): \(answer)") }
    }
}
