import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A failure of the campaign itself (a tool missing, a service that will not start): not a finding about the
/// system under test, which the checks report.
struct CampaignError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A long-running child (broker, ingest, projector, producer) whose output is appended to a log file shared by
/// its successive runs. Every child is registered, so an interrupted campaign stops exactly the processes it
/// started.
final class ChildProcess: @unchecked Sendable {
    let name: String
    let logPath: String
    /// Where this run's output starts in the log.
    let logStart: UInt64
    private let process = Process()

    /// `standardInput`/`standardOutput`: a `Pipe` to talk to the child; by default stdin is /dev/null and stdout
    /// goes to the log with stderr.
    init(
        name: String, executable: String, arguments: [String], environment: [String: String] = [:], logPath: String,
        standardInput: Pipe? = nil, standardOutput: Pipe? = nil
    ) throws {
        self.name = name
        self.logPath = logPath
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        guard let log = FileHandle(forWritingAtPath: logPath) else {
            throw CampaignError("cannot open the log \(logPath) for \(name)")
        }
        logStart = try log.seekToEnd()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardInput = standardInput ?? FileHandle.nullDevice
        process.standardOutput = standardOutput ?? log
        process.standardError = log
        do {
            try process.run()
        } catch {
            throw CampaignError("cannot start \(name) (\(executable)): \(error)")
        }
        try? log.close()
        ChildRegistry.shared.add(self)
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// kill -9: no chance to flush, fsync or leave the consumer group.
    func killHard() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        _ = waitForExit(timeoutSeconds: 10)
    }

    /// SIGTERM, then waits: the exit status, or nil if it did not exit in time (then it is killed).
    func stopGracefully(timeoutSeconds: Double = ChaosLimits.gracefulStopTimeoutSeconds) -> Int32? {
        if process.isRunning { process.terminate() }
        guard let status = waitForExit(timeoutSeconds: timeoutSeconds) else {
            killHard()
            return nil
        }
        return status
    }

    /// The exit status (128 + signal for a signalled exit), or nil if still running after `timeoutSeconds`.
    func waitForExit(timeoutSeconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning {
            if Date() >= deadline { return nil }
            Thread.sleep(forTimeInterval: 0.05)
        }
        ChildRegistry.shared.remove(self)
        return exitStatus
    }

    /// Valid once the process has exited.
    var exitStatus: Int32 {
        process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// What this run wrote to its log so far.
    func output() -> String {
        guard let handle = FileHandle(forReadingAtPath: logPath) else { return "" }
        defer { try? handle.close() }
        try? handle.seek(toOffset: logStart)
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    }
}

/// The children still running, so SIGINT/SIGTERM to the campaign stops them (by pid, nothing else).
final class ChildRegistry: @unchecked Sendable {
    static let shared = ChildRegistry()
    private let lock = NSLock()
    private var children: [ObjectIdentifier: ChildProcess] = [:]

    func add(_ child: ChildProcess) { lock.withLock { children[ObjectIdentifier(child)] = child } }
    func remove(_ child: ChildProcess) { _ = lock.withLock { children.removeValue(forKey: ObjectIdentifier(child)) } }

    func killAll() {
        let running = lock.withLock { Array(children.values) }
        for child in running where child.isRunning { kill(child.pid, SIGKILL) }
    }
}

/// A short command whose output is wanted: stdout goes to a temporary file (never a pipe that could fill up).
struct CommandResult {
    var status: Int32
    var output: Data
    var errorOutput: String
    var text: String { String(decoding: output, as: UTF8.self) }
}

enum Command {
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
        timeoutSeconds: Double = 300
    ) throws -> CommandResult {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("chaos-\(UUID().uuidString)")
        let outPath = scratch.path + ".out"
        let errPath = scratch.path + ".err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        do { try process.run() } catch { throw CampaignError("cannot run \(executable): \(error)") }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning {
            if Date() >= deadline {
                // No wait after the kill: a descendant holding an inherited descriptor would make it endless.
                kill(process.processIdentifier, SIGKILL)
                let errors = String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self)
                throw CampaignError(
                    "\(executable) \(arguments.prefix(3).joined(separator: " ")) did not finish in \(Int(timeoutSeconds)) s; its errors: \(errors.suffix(2000))"
                )
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        let output = FileManager.default.contents(atPath: outPath) ?? Data()
        let errors = String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self)
        return CommandResult(status: process.terminationStatus, output: output, errorOutput: errors)
    }

    /// Runs and insists on exit 0.
    static func output(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
        timeoutSeconds: Double = 300
    ) throws -> CommandResult {
        let result = try run(
            executable, arguments, environment: environment, directory: directory, timeoutSeconds: timeoutSeconds)
        guard result.status == 0 else {
            throw CampaignError(
                "\((executable as NSString).lastPathComponent) \(arguments.first ?? "") exited \(result.status): \(result.errorOutput.suffix(2000))"
            )
        }
        return result
    }

    /// The absolute path of a program on PATH.
    static func which(_ program: String) throws -> String {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw CampaignError("\(program) is not on PATH (scripts/chaos installs it)")
    }
}
