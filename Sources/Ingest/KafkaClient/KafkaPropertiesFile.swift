import Foundation

/// A librdkafka properties file, as kcat's `-F` reads it: one `key=value` per line, `#` starts a comment line,
/// blank lines are skipped, and a value is everything after the first `=` (commas included, which the
/// comma-separated `KAFKA_PROPERTIES` cannot carry). Secrets (`sasl.password`) belong here, in a file only its
/// owner can read, rather than on a command line that `ps` shows.
public enum KafkaPropertiesFile {
    public static func read(_ path: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KafkaPropertiesFileError(path: path, line: 0, problem: "cannot read the file")
        }
        var properties: [String: String] = [:]
        for (index, rawLine) in String(decoding: data, as: UTF8.self).split(
            separator: "\n", omittingEmptySubsequences: false
        ).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].trimmingCharacters(in: .whitespaces).isEmpty else {
                throw KafkaPropertiesFileError(path: path, line: index + 1, problem: "expected key=value")
            }
            properties[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        return properties
    }
}

/// A properties file that cannot be used; never quotes the line (it may hold a password).
public struct KafkaPropertiesFileError: Error, CustomStringConvertible {
    public let path: String
    public let line: Int
    public let problem: String

    public var description: String {
        line == 0
            ? "Kafka properties file \(path): \(problem)" : "Kafka properties file \(path), line \(line): \(problem)"
    }
}
