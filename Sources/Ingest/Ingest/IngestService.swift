import Foundation
import Logging
import ServiceKit
import ServiceLifecycle

/// ledger-ingest as a ServiceLifecycle `Service`: on graceful shutdown (SIGTERM/SIGINT) it stops consuming,
/// finishes the batch, fsyncs, commits the offsets and returns. Any fault ends it with an error, after which
/// nothing more is committed.
public struct IngestService: Service {
    private let configuration: IngestConfiguration
    private let logger: Logger
    private let health: HealthCheck

    public init(configuration: IngestConfiguration, logger: Logger, health: HealthCheck) {
        self.configuration = configuration
        self.logger = logger
        self.health = health
    }

    public func run() async throws {
        let configuration = self.configuration
        let logger = self.logger
        let health = self.health
        do {
            try await runStoppable(named: "ledger-ingest") { stop in
                let loop = try IngestLoop(configuration: configuration, logger: logger, stopRequested: stop)
                health.set(.healthy)
                try loop.run()
            }
        } catch {
            health.set(.unhealthy("\(error)"))
            logger.critical("ingest.failed", metadata: ["ingest.error": "\(error)"])
            throw error
        }
    }
}
