import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

/// How a service logs: the options ledger-ingest and ledger-projector share.
public struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-format"), help: "Log format: json or text (env LOG_FORMAT; default json).")
    var logFormatOption: String?
    @Option(
        name: .customLong("log-level"),
        help: "Log level: trace, debug, info, notice, warning, error, critical (env LOG_LEVEL; default info).")
    var logLevelOption: String?

    public init() {}

    /// The flag, else the settings (environment, configuration file), else the default: never shown by --help.
    public var logFormat: String { logFormatOption ?? Settings.current.string("LOG_FORMAT") ?? "json" }
    public var logLevel: String { logLevelOption ?? Settings.current.string("LOG_LEVEL") ?? "info" }

    public func validate() throws {
        guard ["json", "text"].contains(logFormat) else { throw ValidationError("--log-format is json or text") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level is one of trace, debug, info, notice, warning, error, critical")
        }
    }
}

/// A service's whole process: the service and its `/metrics` and `/healthz` endpoint in one `ServiceGroup`, shut
/// down gracefully by SIGTERM or SIGINT; either ending (or failing) ends both. ledger-ingest and ledger-projector
/// run this way.
public enum ServiceProcess {
    /// The life of a service process, from its parsed options to its exit: logging and metrics installed, the
    /// configuration logged once as `<event>.configuration` (the caller redacts passwords), the service made and
    /// run beside `/metrics`. A failure is logged as `<event>.exiting`, repeated as one line on standard error
    /// (readable when the logs are JSON going elsewhere), and exits 1.
    public static func main(
        _ name: String, event: String, logging: LoggingOptions, metricsPort: Int, metricHelp: [String: String],
        configuration: Logger.Metadata, makeService: (Logger, HealthCheck) throws -> some Service
    ) async throws {
        let observability = Observability.bootstrap(
            service: name, jsonLogs: logging.logFormat == "json", logLevel: Logger.Level(rawValue: logging.logLevel)!,
            metricHelp: metricHelp)
        let logger = Logger(label: name)
        logger.info("\(event).configuration", metadata: configuration.merging(["http.port": "\(metricsPort)"]) { $1 })
        do {
            let health = HealthCheck()
            try await run(
                try makeService(logger, health), metricsPort: metricsPort, observability: observability,
                health: health, logger: logger)
        } catch {
            logger.critical("\(event).exiting", metadata: ["\(event).error": "\(error)"])
            FileHandle.standardError.write(Data("\(name): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    private static func run(
        _ service: some Service, metricsPort: Int, observability: Observability, health: HealthCheck, logger: Logger
    ) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(
                        service: MetricsEndpoint(
                            port: metricsPort, registry: observability.registry, health: health, logger: logger)),
                    .init(
                        service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
