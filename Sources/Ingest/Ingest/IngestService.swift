import Foundation
import Logging
import ServiceKit

/// ledger-ingest as a ServiceLifecycle `Service`: on graceful shutdown (SIGTERM/SIGINT) it stops consuming,
/// finishes the batch, fsyncs, commits the offsets and returns. Any fault ends it with an error, after which
/// nothing more is committed.
public enum IngestService {
    public static func make(configuration: IngestConfiguration, logger: Logger, health: HealthCheck) -> StoppableService
    {
        StoppableService(
            threadName: "ledger-ingest",
            description: "IngestService(\(configuration.group), \(configuration.ledgerDirectory))",
            work: { stop in
                do {
                    let loop = try IngestLoop(configuration: configuration, logger: logger, stopRequested: stop)
                    health.set(.healthy)
                    try loop.run()
                } catch {
                    health.set(.unhealthy("\(error)"))
                    logger.critical("ingest.failed", metadata: ["ingest.error": "\(error)"])
                    throw error
                }
            })
    }
}
