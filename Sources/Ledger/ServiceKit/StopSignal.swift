import Foundation
import ServiceLifecycle

/// A one-way "please stop" for a loop running on its own thread: set from a signal handler task or a
/// cancellation handler, checked between batches, and waking any sleep at once.
public final class StopSignal: @unchecked Sendable {
    // @unchecked: every access to `requested` holds `condition`'s lock.
    private let condition = NSCondition()
    private var requested = false

    public init() {}

    public func request() {
        condition.lock()
        requested = true
        condition.broadcast()
        condition.unlock()
    }

    public var isRequested: Bool {
        condition.lock()
        defer { condition.unlock() }
        return requested
    }

    /// Sleeps up to `milliseconds`, returning early when a stop is requested. Returns whether one was.
    @discardableResult
    public func wait(milliseconds: Int) -> Bool {
        let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
        condition.lock()
        defer { condition.unlock() }
        while !requested && condition.wait(until: deadline) {}
        return requested
    }
}

/// Runs blocking work (librdkafka, fsync, libpq) on a thread of its own and waits for it without holding a thread
/// of Swift's cooperative pool. Shared by ledger-ingest and ledger-projector.
public func runOnDedicatedThread(named name: String, _ body: @escaping @Sendable () throws -> Void) async throws {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        let thread = Thread {
            // Named from inside: Foundation on Linux names the pthread only when the thread names itself, and
            // otherwise it keeps its creator's name (a pool thread's), so `top -H` could not tell it apart.
            Thread.current.name = name
            continuation.resume(with: Result { try body() })
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// Runs a blocking loop on a thread of its own (`runOnDedicatedThread`) and hands it the `StopSignal` it
/// checks. The signal is raised on graceful shutdown (SIGTERM/SIGINT; `onShutdown` runs first) and on
/// cancellation (another service of the group failed, e.g. its port was taken): a loop that heard only one of
/// the two ran on, deaf to the other. Shared by ledger-ingest and ledger-projector.
public func runStoppable(
    named name: String, onShutdown: @escaping @Sendable () -> Void = {},
    _ body: @escaping @Sendable (StopSignal) throws -> Void
) async throws {
    let stop = StopSignal()
    try await withGracefulShutdownHandler {
        try await withTaskCancellationHandler {
            try await runOnDedicatedThread(named: name) { try body(stop) }
        } onCancel: {
            stop.request()
        }
    } onGracefulShutdown: {
        onShutdown()
        stop.request()
    }
}

/// A service whose work is a blocking loop on a thread of its own (`runStoppable`): what ledger-ingest and
/// ledger-projector each are. `description` is what ServiceLifecycle logs of it: never a password.
public struct StoppableService: Service, CustomStringConvertible {
    public let description: String
    private let threadName: String
    private let onShutdown: @Sendable () -> Void
    private let work: @Sendable (StopSignal) throws -> Void

    public init(
        threadName: String, description: String, onShutdown: @escaping @Sendable () -> Void = {},
        work: @escaping @Sendable (StopSignal) throws -> Void
    ) {
        self.threadName = threadName
        self.description = description
        self.onShutdown = onShutdown
        self.work = work
    }

    public func run() async throws {
        try await runStoppable(named: threadName, onShutdown: onShutdown, work)
    }
}
