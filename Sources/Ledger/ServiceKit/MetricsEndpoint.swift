import FlyingFox
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// Whether a service can do its work; `/healthz` answers 200 or 503 with the reason.
public final class HealthCheck: Sendable {
    public enum Status: Sendable, Equatable {
        case healthy
        case unhealthy(String)
    }

    private let status = Mutex(Status.unhealthy("starting"))

    public init() {}

    public func set(_ newStatus: Status) { status.withLock { $0 = newStatus } }
    public var current: Status { status.withLock { $0 } }
}

/// Serves `GET /metrics` (Prometheus text format) and `GET /healthz` on all interfaces. A ServiceLifecycle
/// `Service`: it stops when the service group shuts down gracefully.
public struct MetricsEndpoint: Service {
    private let port: Int
    private let registry: PrometheusCollectorRegistry
    private let health: HealthCheck
    private let logger: Logger

    public init(port: Int, registry: PrometheusCollectorRegistry, health: HealthCheck, logger: Logger) {
        precondition((0...65535).contains(port), "a TCP port")
        self.port = port
        self.registry = registry
        self.health = health
        self.logger = logger
    }

    public func run() async throws {
        guard port != 0 else {
            try await gracefulShutdown()
            return
        }
        let server = HTTPServer(address: .inet(port: UInt16(port)), logger: .disabled)
        let registry = self.registry
        let health = self.health
        let process = ProcessMetrics(registry: registry)
        await server.appendRoute("GET /metrics") { _ in
            process.sample()
            return HTTPResponse(
                statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: Data(registry.emitToBuffer()))
        }
        await server.appendRoute("GET /healthz") { _ in
            switch health.current {
            case .healthy: HTTPResponse(statusCode: .ok, body: Data("ok\n".utf8))
            case .unhealthy(let reason):
                HTTPResponse(statusCode: .serviceUnavailable, body: Data("unhealthy: \(reason)\n".utf8))
            }
        }
        logger.info("service.metrics.listening", metadata: ["http.port": "\(port)"])
        let stopping = Mutex(false)
        try await withGracefulShutdownHandler {
            do {
                try await server.run()
            } catch  where stopping.withLock({ $0 }) {
                // The listening socket closed because we asked it to: a clean stop, not a failure.
            }
        } onGracefulShutdown: {
            stopping.withLock { $0 = true }
            Task { await server.stop() }
        }
    }
}
