import Foundation
import Projector
import Testing

/// The real `ledger-projector` executable, run as a child process (so it can be killed with SIGKILL).
///
/// It is found next to this test bundle: SwiftPM puts every product of a build in one directory
/// (`.build/debug`, or `<scratch path>/debug` with `--scratch-path`), and the bundle's own path says which.
/// `swift build --build-tests` (scripts/test) builds it; a filtered run needs
/// `swift build --scratch-path <path> --product ledger-projector` first. A missing or stale binary fails the
/// test with that instruction rather than testing old code.
enum ProjectorBinary {
    static func path() throws -> String {
        if let given = ProcessInfo.processInfo.environment["PULSE_PROJECTOR_BINARY"] { return given }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = (executable as NSString).deletingLastPathComponent
        while !FileManager.default.fileExists(atPath: directory + "/ledger-projector") && directory.count > 1 {
            directory = (directory as NSString).deletingLastPathComponent
        }
        let binary = directory + "/ledger-projector"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestFailure("ledger-projector is not built next to the tests (\(executable)): run `swift build --build-tests` (scripts/test does), or `swift build --product ledger-projector` with the same --scratch-path")
        }
        try checkFresh(binary: binary, modules: directory + "/Projector.build")
        return binary
    }

    /// Fails when the Projector module was compiled after the binary was linked: the binary would be old code.
    private static func checkFresh(binary: String, modules: String) throws {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: modules)) ?? []
        let newestObject = files.filter { $0.hasSuffix(".o") }.compactMap { modified(modules + "/" + $0) }.max()
        if let newestObject, let linked = modified(binary), linked < newestObject {
            throw TestFailure("ledger-projector is older than the Projector module: rebuild it (`swift build --product ledger-projector` with this --scratch-path)")
        }
    }

    private static func modified(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}

/// One run of ledger-projector.
final class ProjectorProcess {
    let process = Process()
    let stderrPath: String

    /// Starts the projector with `arguments` (plus `--metrics-port 0` unless given), stderr to a file.
    init(_ arguments: [String], stderrPath: String) throws {
        process.executableURL = URL(fileURLWithPath: try ProjectorBinary.path())
        let metrics = arguments.contains("--metrics-port") ? [] : ["--metrics-port", "0"]
        process.arguments = arguments + metrics
        self.stderrPath = stderrPath
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    /// The projector following the ledger in `directory` into `schema`, with /metrics on a free port.
    static func following(_ directory: String, into schema: WarehouseSchema, scratch: Scratch, _ extra: [String] = []) throws -> (process: ProjectorProcess, port: Int) {
        let port = try freePort()
        let process = try ProjectorProcess(["--wal", directory, "--postgres", try TestPostgres.url(), "--schema", schema.name, "--metrics-port", String(port)] + extra,
                                           stderrPath: scratch.file("projector.log"))
        return (process, port)
    }

    /// Kills with SIGKILL (no chance to finish anything) and reaps it.
    func killNine() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM (graceful) and waits; returns the exit status.
    func terminate() -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Waits up to `seconds` for it to exit by itself; returns the exit status, or nil (then kills it).
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        guard !process.isRunning else {
            killNine()
            return nil
        }
        return process.terminationStatus
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}
