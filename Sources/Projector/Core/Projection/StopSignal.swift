import Foundation

/// A one-way "please stop" for a loop running on its own thread: set from a signal handler task or a
/// cancellation handler, checked between batches, and waking any sleep at once.
final class StopSignal: @unchecked Sendable {
    // @unchecked: every access to `requested` holds `condition`'s lock.
    private let condition = NSCondition()
    private var requested = false

    func request() {
        condition.lock()
        requested = true
        condition.broadcast()
        condition.unlock()
    }

    var isRequested: Bool {
        condition.lock()
        defer { condition.unlock() }
        return requested
    }

    /// Sleeps up to `milliseconds`, returning early when a stop is requested. Returns whether one was.
    @discardableResult
    func wait(milliseconds: Int) -> Bool {
        let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
        condition.lock()
        defer { condition.unlock() }
        while !requested && condition.wait(until: deadline) {}
        return requested
    }
}
