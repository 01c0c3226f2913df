import ArgumentParser
import Configuration
import Foundation
import SystemPackage

/// The one configuration layer of ledger-ingest, ledger-projector and ledger-tool (swift-configuration's reader
/// over two providers). A setting is named by its environment variable (`KAFKA_BROKERS`) and comes from, in order:
/// 1. the command line: the caller's flag wins and never asks here;
/// 2. the environment, where a secret (`fileBackedNames`) may instead come from the file named by `NAME_FILE` (how
///    Docker and Kubernetes mount secrets): `DATABASE_URL_FILE=/run/secrets/db` reads the URL from that file;
/// 3. the JSON file named by `--config FILE` or `PULSE_CONFIG`, its keys the variable's name in lower case with
///    dots for underscores, nested or not: `{"kafka": {"brokers": "…"}}` or `{"kafka.brokers": "…"}`;
/// 4. the command's default.
/// A value that does not parse is refused with where it came from; secrets are marked so that the reader never
/// logs them, and no binary prints a setting's value in `--help` (defaults there are the built-in ones).
public struct Settings: Sendable {
    /// The environment variable naming the JSON configuration file.
    public static let fileVariable = "PULSE_CONFIG"
    /// Settings whose values are never printed: they may hold passwords (a URL's, SASL's).
    public static let secretNames: Set<String> = ["DATABASE_URL", "KAFKA_PROPERTIES"]
    /// Secrets that may come from the file named by `NAME_FILE`, holding the value itself. Kafka's secrets go in a
    /// librdkafka properties file instead (`KAFKA_PROPERTIES_FILE`, read by the Kafka clients' options).
    public static let fileBackedNames: Set<String> = ["DATABASE_URL"]

    private let reader: ConfigReader
    private let environment: [String: String]
    private let file: String?

    /// The process's settings, loaded once by each binary's entry before it parses its arguments.
    nonisolated(unsafe) public private(set) static var current = Settings.environmentOnly()

    /// Loads the layer from the environment and the file named by `--config` in `arguments` or `PULSE_CONFIG`.
    public static func load(
        arguments: [String] = CommandLine.arguments, environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws {
        current = try await Settings(environment: environment, file: configFile(arguments, environment))
    }

    public init(environment: [String: String], file: String?) async throws {
        let resolved = try Self.readingSecretFiles(environment)
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(
                environmentVariables: resolved, secretsSpecifier: .specific(Self.secretNames))
        ]
        if let file {
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(file)))
            } catch {
                throw ValidationError("cannot read the configuration file \(file) (\(Self.fileVariable)): \(error)")
            }
        }
        reader = ConfigReader(providers: providers)
        self.environment = resolved
        self.file = file
    }

    private static func environmentOnly() -> Settings {
        Settings(reader: ConfigReader(provider: EnvironmentVariablesProvider()), environment: [:], file: nil)
    }

    private init(reader: ConfigReader, environment: [String: String], file: String?) {
        self.reader = reader
        self.environment = environment
        self.file = file
    }

    /// The setting `name` (an environment variable's name), or nil when nothing sets it.
    public func string(_ name: String) -> String? {
        reader.string(forKey: Self.key(name), isSecret: Self.secretNames.contains(name))
    }

    /// A whole-number setting; a value that is not one is refused, naming where it came from.
    public func int(_ name: String) throws -> Int? {
        let key = Self.key(name)
        // A JSON file gives numbers as numbers, the environment as text; anything else set there is refused.
        if let value = reader.int(forKey: key) { return value }
        guard
            let text = string(name) ?? reader.double(forKey: key).map({ "\($0)" })
                ?? reader.bool(forKey: key).map({ "\($0)" })
        else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError("\(assignment(name, text)) is not a whole number")
        }
        return value
    }

    /// A comma-separated list setting.
    public func list(_ name: String) -> [String]? {
        string(name).map { $0.split(separator: ",").map(String.init) }
    }

    /// `name`'s value as set where it came from, for error messages (a secret's value is never shown):
    /// `METRICS_PORT=abc`, or `metrics.port = abc in /etc/pulse.json`.
    private func assignment(_ name: String, _ value: String) -> String {
        let shown = Self.secretNames.contains(name) ? "…" : value
        if environment[name] != nil { return "\(name)=\(shown)" }
        return "\(Self.key(name)) = \(shown) in \(file ?? "the configuration file")"
    }

    /// Whether libpq's own variables name a server: with no URL given, libpq then reads PGHOST, PGPORT, PGUSER,
    /// PGDATABASE, PGSERVICE, PGPASSWORD and ~/.pgpass (PGPASSFILE) itself, as psql does.
    public static var libpqEnvironmentNamesAServer: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["PGHOST", "PGHOSTADDR", "PGDATABASE", "PGSERVICE"].contains { environment[$0]?.isEmpty == false }
    }

    /// `KAFKA_BROKERS` → `kafka.brokers`, which the environment provider maps back to `KAFKA_BROKERS`.
    static func key(_ name: String) -> ConfigKey {
        ConfigKey(name.lowercased().split(separator: "_").map(String.init))
    }

    /// The environment with each secret's `NAME_FILE` replaced by `NAME` = the file's contents (one trailing
    /// newline dropped). Only secrets: other programs' `*_FILE` variables (`SSL_CERT_FILE`) are none of ours. Both
    /// set is refused: which one was meant is not for the program to guess.
    static func readingSecretFiles(_ environment: [String: String]) throws -> [String: String] {
        var resolved = environment
        for name in fileBackedNames {
            let variable = name + "_FILE"
            guard let path = environment[variable] else { continue }
            guard environment[name] == nil else {
                throw ValidationError("both \(name) and \(variable) are set: keep one")
            }
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw ValidationError("\(variable)=\(path): cannot read the file")
            }
            var text = String(decoding: contents, as: UTF8.self)
            if text.hasSuffix("\n") { text.removeLast() }
            if text.hasSuffix("\r") { text.removeLast() }
            resolved[name] = text
        }
        return resolved
    }

    /// `--config FILE` or `--config=FILE` among `arguments`, else `PULSE_CONFIG`. Read before the arguments are
    /// parsed, because the file supplies the defaults the parsed options fall back to.
    static func configFile(_ arguments: [String], _ environment: [String: String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == "--config", index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix("--config=") { return String(argument.dropFirst("--config=".count)) }
        }
        return environment[fileVariable].flatMap { $0.isEmpty ? nil : $0 }
    }
}

extension AsyncParsableCommand {
    /// A service's entry: the settings first (the configuration file supplies the defaults its parsed options fall
    /// back to), then the command.
    public static func mainReadingSettings() async {
        do {
            try await Settings.load()
            var command = try parseAsRoot()
            if var service = command as? any AsyncParsableCommand {
                try await service.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
