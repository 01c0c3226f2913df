import Foundation

/// A directory under the system's temporary directory for one test or benchmark, removed when the value goes
/// away (kept with `PULSE_KEEP_SCRATCH=1`, to look at what a failed test left).
public final class ScratchDirectory: @unchecked Sendable {
    // @unchecked: `path` never changes; the directory is the caller's to use.
    public let path: String

    /// `name` (the calling function's, by default) names the directory, to find it when kept.
    public init(_ name: String = #function) {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        path = NSTemporaryDirectory() + "pulse-ledger-tests/\(safe)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        if ProcessInfo.processInfo.environment["PULSE_KEEP_SCRATCH"] == nil {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    public func file(_ name: String) -> String { path + "/" + name }

    /// A copy of this directory's files in a new scratch directory.
    public func copy(_ name: String = "copy") throws -> ScratchDirectory {
        let copy = ScratchDirectory(name)
        for item in try FileManager.default.contentsOfDirectory(atPath: path) {
            try FileManager.default.copyItem(atPath: file(item), toPath: copy.file(item))
        }
        return copy
    }
}

/// A test's own failure, with the reason.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` every 50 ms for up to `seconds`; true once it holds. Errors count as "not yet" (a server may
/// be restarting).
public func eventually(seconds: Double, _ condition: () throws -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if (try? condition()) == true { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return false
}
