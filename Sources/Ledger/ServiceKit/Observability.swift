import Foundation
import Logging
import Metrics
import Prometheus

/// Process-wide logging and metrics, installed once at start by each service.
public struct Observability: Sendable {
    /// Every metric the process records through swift-metrics lands here; `/metrics` renders it.
    public let registry: PrometheusCollectorRegistry

    /// Installs swift-log (JSON lines or human text, to standard error) and swift-metrics backed by Prometheus.
    /// Call once, before anything logs or records a metric.
    /// `metricHelp`: the `# HELP` text of every metric the service records, by name.
    public static func bootstrap(
        service: String, jsonLogs: Bool, logLevel: Logger.Level, metricHelp: [String: String]
    ) -> Observability {
        let registry = PrometheusCollectorRegistry()
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                jsonLogs ? JSONLogHandler(label: label, service: service) : StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        MetricsSystem.bootstrap(DescribedMetricsFactory(registry: registry, help: metricHelp))
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "pulse_ledger_build_info", unitName: "",
                helpText: "Always 1; the labels say which service and build this is."),
            labels: [("service", service), ("version", PulseLedgerBuild.version)]
        ).set(to: 1.0)
        return Observability(registry: registry)
    }
}

/// The buckets of every duration histogram, from 50 µs to 10 s. swift-prometheus's default starts at 5 ms: an
/// fsync on an SSD (~0.1-2 ms) landed in the first bucket whatever it took, so its quantiles said nothing. A COPY of
/// a batch (milliseconds to seconds) fits the same range.
let durationBuckets: [Duration] = [
    .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
    .microseconds(2_500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
    .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2_500), .seconds(5),
    .seconds(10),
]

/// What the build is, for `pulse_ledger_build_info` and `--version`.
public enum PulseLedgerBuild {
    /// The release version: bumped with each release of the binaries.
    public static let version = "0.1.0"
}

/// One JSON object per line on standard error: `{"ts":…,"level":…,"service":…,"logger":…,"message":…, <metadata>}`.
/// Metadata keys are dotted (`kafka.partition`) and flattened, so log queries and metric labels share names.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let service: String
    private static let output = FileHandle.standardError

    public init(label: String, service: String) {
        self.label = label
        self.service = service
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: String] = [:]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            object[key] = "\(value)"
        }
        object["ts"] = ISO8601DateFormatter.logTimestamp.string(from: Date())
        object["level"] = event.level.rawValue
        object["service"] = service
        object["logger"] = label
        object["message"] = "\(event.message)"
        guard
            var line = try? JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        line.append(0x0A)
        Self.output.write(line)
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let logTimestamp: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}

/// Removes credentials from a connection string before it is logged: `postgres://user:secret@host/db` →
/// `postgres://user:***@host/db`; `password=secret` → `password=***`.
public func redactingSecrets(_ text: String) -> String {
    var result = text.replacingOccurrences(
        of: #"://([^:/@\s]+):[^@\s]*@"#, with: "://$1:***@", options: .regularExpression)
    result = result.replacingOccurrences(
        of: #"(?i)(password|passwd|secret|sasl\.password|ssl\.key\.password)=[^\s&,]*"#, with: "$1=***",
        options: .regularExpression)
    return result
}
