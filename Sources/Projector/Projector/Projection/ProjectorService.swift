import Foundation
import Logging
import ServiceKit
import ServiceLifecycle

/// ledger-projector as a ServiceLifecycle `Service`. The projection loop blocks (libpq, file reads), so it runs
/// on a thread of its own, off the Swift concurrency pool. Graceful shutdown (SIGTERM, SIGINT) or cancellation
/// asks it to stop: the transaction in flight commits (or rolls back on error), then `run` returns.
public enum ProjectorService {
    public static func make(configuration: ProjectorConfiguration, health: HealthCheck, logger: Logger)
        -> StoppableService
    {
        // The description (logged by ServiceLifecycle) is the configuration's, which holds no password.
        StoppableService(
            threadName: "ledger-projector", description: "ProjectorService(\(configuration))",
            onShutdown: { logger.info("projector.stopping") },
            work: { stop in
                try ProjectionLoop(configuration: configuration, stop: stop, health: health, logger: logger).run()
            })
    }
}

extension ProjectorService {
    /// Projects until every ledger's durable records are in the warehouse, on the calling thread, then returns
    /// (what `ledger-projector --exit-when-caught-up` does, without the metrics endpoint). Blocks.
    public static func runUntilCaughtUp(configuration: ProjectorConfiguration, logger: Logger) throws {
        var configuration = configuration
        configuration.exitWhenCaughtUp = true
        try ProjectionLoop(configuration: configuration, stop: StopSignal(), health: HealthCheck(), logger: logger)
            .run()
    }
}
