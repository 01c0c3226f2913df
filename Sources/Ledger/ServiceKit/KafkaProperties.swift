import ArgumentParser
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

/// librdkafka properties as every Kafka client of the three binaries takes them, from the least specific to the
/// most: the properties file (`-F`, `KAFKA_PROPERTIES_FILE`), then `KAFKA_PROPERTIES` (comma-separated), then
/// each `-X key=value`. One place, so that ledger-ingest and ledger-tool's Kafka commands layer them alike.
public enum KafkaProperties {
    public static func layered(file: String?, arguments: [String]) throws -> [String: String] {
        var properties =
            try (file ?? Settings.current.string("KAFKA_PROPERTIES_FILE")).map {
                try KafkaPropertiesFile.read($0)
            } ?? [:]
        properties.merge(try pairs(Settings.current.list("KAFKA_PROPERTIES") ?? [])) { $1 }
        properties.merge(try pairs(arguments)) { $1 }
        return properties
    }

    /// `key=value` items; a malformed one is refused naming only what precedes its `=` (a value may be secret).
    public static func pairs(_ items: [String]) throws -> [String: String] {
        var properties: [String: String] = [:]
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ValidationError("-X expects key=value, got \"\(parts.first ?? "")=…\"")
            }
            properties[parts[0]] = parts[1]
        }
        return properties
    }
}
