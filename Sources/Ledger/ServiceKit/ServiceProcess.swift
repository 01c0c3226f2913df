import Logging
import ServiceLifecycle

/// A service's whole process: the service and its `/metrics` and `/healthz` endpoint in one `ServiceGroup`, shut
/// down gracefully by SIGTERM or SIGINT; either ending (or failing) ends both. ledger-ingest and ledger-projector
/// run this way.
public enum ServiceProcess {
    public static func run(
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
