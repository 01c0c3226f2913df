import Foundation

/// A binary of this package run as a child process (ledger-ingest, ledger-projector, ledger-tool), its standard
/// error appended to a log file, so that a test can kill it, stop it, wait for it and read what it said.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: the Process is driven from the test's thread only.
    public let process = Process()
    public let logPath: String

    /// Starts `product` (found by `BuiltProducts`) with `arguments` (and `environment`, else this process's);
    /// stdout is discarded.
    public init(product: String, _ arguments: [String], logPath: String, environment: [String: String]? = nil) throws {
        self.logPath = logPath
        process.executableURL = URL(fileURLWithPath: try BuiltProducts.path(of: product))
        process.arguments = arguments
        if let environment { process.environment = environment }
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    /// SIGKILL (no chance to finish anything), then reaps it.
    public func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM (a graceful stop) and waits; returns the exit status.
    public func stop() -> Int32 {
        // Once reaped, its pid may belong to another process: signal only a child still running.
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Waits up to `timeoutSeconds` for it to exit by itself; its exit status, or nil when it is still running
    /// (then killed, with `killingOnTimeout`).
    public func waitForExit(timeoutSeconds: Double, killingOnTimeout: Bool = false) -> Int32? {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        guard !process.isRunning else {
            if killingOnTimeout { kill9() }
            return nil
        }
        return process.terminationStatus
    }

    /// Everything it wrote to standard error so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

/// Where the package's executables are: next to the running test bundle or benchmark (SwiftPM puts every product
/// of a build in one directory, `.build/debug`, or `<scratch path>/debug` with `--scratch-path`).
public enum BuiltProducts {
    /// The path of `product`, failing with how to build it when it is missing, or older than the objects of
    /// `module` (a library it links, whose newer build it would lack: a test must never run old code).
    public static func path(of product: String, newerThan module: String? = nil) throws -> String {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = (executable as NSString).deletingLastPathComponent
        while !FileManager.default.fileExists(atPath: directory + "/" + product) && directory.count > 1 {
            directory = (directory as NSString).deletingLastPathComponent
        }
        let binary = directory + "/" + product
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestFailure(
                "\(product) is not built next to \(executable): run `swift build --build-tests` (scripts/test does), or `swift build --product \(product)` with the same --scratch-path"
            )
        }
        if let module { try checkFresh(binary, objects: directory + "/\(module).build", product: product) }
        return binary
    }

    private static func checkFresh(_ binary: String, objects directory: String, product: String) throws {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let newestObject = files.filter { $0.hasSuffix(".o") }.compactMap { modified(directory + "/" + $0) }.max()
        if let newestObject, let linked = modified(binary), linked < newestObject {
            throw TestFailure(
                "\(product) is older than the module it links: rebuild it (`swift build --product \(product)` with this --scratch-path)"
            )
        }
    }

    private static func modified(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now (bound once by the kernel's choice, then released).
public func freePort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
        }
    }
    guard bound else { throw TestFailure("no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// One run of a command to its end, measured: exit status, wall time and peak resident memory. The peak comes
/// from GNU time (`/usr/bin/time -f %M`, Debian's package `time`), not this process's `wait4`: a child spawned by
/// a large process inherits the parent's resident size as its own maximum, whatever it uses itself.
public struct MeasuredRun: Sendable {
    public var status: Int32
    public var seconds: TimeInterval
    public var peakResidentKibibytes: Int

    public init(_ executable: String, _ arguments: [String]) throws {
        let report = NSTemporaryDirectory() + "pulse-peak-\(getpid())-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: report) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/time")
        process.arguments = ["-f", "%M", "-o", report, executable] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let started = Date()
        try process.run()
        process.waitUntilExit()
        seconds = Date().timeIntervalSince(started)
        status = process.terminationStatus
        let text = try String(contentsOfFile: report, encoding: .utf8)
        guard let peak = text.split(separator: "\n").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) })
        else {
            throw TestFailure("GNU time reported no peak for \(executable): \(text)")
        }
        peakResidentKibibytes = peak
    }
}

/// One run of a built product to its end: exit status, standard output and standard error.
public struct ProductRun: Sendable {
    public var status: Int32
    public var output: String
    public var errors: String

    public init(_ product: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try BuiltProducts.path(of: product))
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Standard error is drained on another thread: a child blocked on a full pipe would never exit.
        nonisolated(unsafe) var errorBytes = Data()
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errorBytes = errors.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }
        let outputBytes = output.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        status = process.terminationStatus
        self.output = String(decoding: outputBytes, as: UTF8.self)
        self.errors = String(decoding: errorBytes, as: UTF8.self)
    }
}
