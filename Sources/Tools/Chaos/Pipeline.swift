import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where everything is: the binaries under test, the scratch directory, PostgreSQL (from scripts/lib.sh's
/// `start_postgres`) and the helper programs.
struct CampaignEnvironment {
    var binaries: String
    var work: String
    var postgresURL: String
    var postgresData: String
    var postgresBin: String
    var postgresLog: String
    var psql: String
    var kcat: String

    var ledgerTool: String { binaries + "/ledger-tool" }
    var ledgerIngest: String { binaries + "/ledger-ingest" }
    var ledgerProjector: String { binaries + "/ledger-projector" }

    static func fromProcessEnvironment(binaries: String, work: String) throws -> CampaignEnvironment {
        let variables = ProcessInfo.processInfo.environment
        func required(_ name: String) throws -> String {
            guard let value = variables[name], !value.isEmpty else {
                throw CampaignError(
                    "\(name) is not set: run the campaign through scripts/chaos, which starts a throwaway PostgreSQL cluster (scripts/lib.sh start_postgres)"
                )
            }
            return value
        }
        for tool in ["ledger-tool", "ledger-ingest", "ledger-projector"]
        where !FileManager.default.isExecutableFile(atPath: "\(binaries)/\(tool)") {
            throw CampaignError("\(binaries)/\(tool) is missing: build it first (scripts/chaos does)")
        }
        return CampaignEnvironment(
            binaries: binaries, work: work, postgresURL: try required("PULSE_TEST_POSTGRES_URL"),
            postgresData: try required("PULSE_TEST_POSTGRES_DATA"),
            postgresBin: try required("PULSE_TEST_POSTGRES_BIN"),
            postgresLog: try required("PULSE_TEST_POSTGRES_LOG"), psql: try Command.which("psql"),
            kcat: try Command.which("kcat"))
    }
}

/// `ledger-tool dev-broker`, driven through its standard input: every command is answered "ok" or "error: …".
final class DevBroker: @unchecked Sendable {
    let bootstrap: String
    private let child: ChildProcess
    private let input = Pipe()
    private let lines = LineQueue()

    init(_ environment: CampaignEnvironment, partitions: Int, brokers: Int) throws {
        let output = Pipe()
        child = try ChildProcess(
            name: "dev-broker", executable: environment.ledgerTool,
            arguments: ["dev-broker", "--partitions", "\(partitions)", "--brokers", "\(brokers)"],
            logPath: environment.work + "/dev-broker.log", standardInput: input, standardOutput: output)
        let reader = output.fileHandleForReading
        let queue = lines
        Thread {
            var pending = Data()
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty {
                    queue.close()
                    return
                }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    queue.push(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
        }.start()
        guard let address = lines.pop(timeoutSeconds: 30), address.contains(":") else {
            throw CampaignError("dev-broker printed no bootstrap address; see \(environment.work)/dev-broker.log")
        }
        bootstrap = address
    }

    /// Sends one fault command and insists on "ok".
    func command(_ text: String) throws {
        do {
            try input.fileHandleForWriting.write(contentsOf: Data((text + "\n").utf8))
        } catch {
            let status = child.waitForExit(timeoutSeconds: 1).map { "exited \($0)" } ?? "is running"
            throw CampaignError("dev-broker did not take \"\(text)\" (\(error)); it \(status): see \(child.logPath)")
        }
        guard let answer = lines.pop(timeoutSeconds: ChaosLimits.brokerCommandTimeoutSeconds) else {
            throw CampaignError(
                "dev-broker did not answer \"\(text)\" within \(Int(ChaosLimits.brokerCommandTimeoutSeconds)) s")
        }
        guard answer == "ok" else { throw CampaignError("dev-broker refused \"\(text)\": \(answer)") }
    }

    var isRunning: Bool { child.isRunning }

    func stop() { _ = child.stopGracefully(timeoutSeconds: 5) }
}

/// Lines from a reader thread, handed to one waiting consumer.
final class LineQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var lines: [String] = []
    private var closed = false

    func push(_ line: String) {
        condition.lock()
        lines.append(line)
        condition.signal()
        condition.unlock()
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    func pop(timeoutSeconds: Double) -> String? {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        condition.lock()
        defer { condition.unlock() }
        while lines.isEmpty && !closed {
            if !condition.wait(until: deadline) { break }
        }
        return lines.isEmpty ? nil : lines.removeFirst()
    }
}

/// One `ledger-ingest` instance: its own ledger directory, the shared consumer group. Restarted after every fault.
final class IngestInstance {
    let name: String
    let ledger: String
    /// The `file://` archive this instance ships its sealed segments to (`--archive-to`).
    let archive: String
    let logPath: String
    private let environment: CampaignEnvironment
    private let brokers: String
    private(set) var current: ChildProcess?

    init(name: String, environment: CampaignEnvironment, brokers: String) {
        self.name = name
        self.environment = environment
        self.brokers = brokers
        ledger = environment.work + "/ledger-\(name)"
        archive = environment.work + "/archive-\(name)"
        logPath = environment.work + "/ingest-\(name).log"
    }

    /// Starts a run; `fault` is a `--inject-fault` plan for the ledger's file layer.
    @discardableResult
    func start(fault: String? = nil) throws -> ChildProcess {
        precondition(current?.isRunning != true, "ingest \(name) is already running")
        var arguments = [
            "--brokers", brokers, "--wal", ledger, "--metrics-port", "0", "--log-format", "text",
            "-X", "session.timeout.ms=\(ChaosLimits.ingestSessionTimeoutMilliseconds)",
            "--archive-to", "file://" + archive, "--segment-bytes", "\(ChaosLimits.archiveSegmentBytes)",
            "--archive-interval-seconds", "\(ChaosLimits.archiveIntervalSeconds)",
        ]
        if let fault { arguments += ["--inject-fault", fault] }
        let child = try ChildProcess(
            name: "ledger-ingest \(name)", executable: environment.ledgerIngest, arguments: arguments, logPath: logPath)
        current = child
        return child
    }
}

/// The one `ledger-projector`, following every ledger into the campaign's warehouse schema.
final class ProjectorService {
    let logPath: String
    private let environment: CampaignEnvironment
    private let ledgers: [String]
    private(set) var current: ChildProcess?

    init(environment: CampaignEnvironment, ledgers: [String]) {
        self.environment = environment
        self.ledgers = ledgers
        logPath = environment.work + "/projector.log"
    }

    var arguments: [String] {
        ledgers.flatMap { ["--wal", $0] } + [
            "--schema", ChaosLimits.warehouseSchema, "--reader-role", "", "--metrics-port", "0", "--log-format", "text",
        ]
    }

    /// The password travels in the environment, never on a command line.
    var variables: [String: String] { ["DATABASE_URL": environment.postgresURL] }

    @discardableResult
    func start() throws -> ChildProcess {
        precondition(current?.isRunning != true, "the projector is already running")
        let child = try ChildProcess(
            name: "ledger-projector", executable: environment.ledgerProjector, arguments: arguments,
            environment: variables, logPath: logPath)
        current = child
        return child
    }

    /// A last run with --exit-when-caught-up: its exit status (nil if it did not finish in time).
    func catchUp(timeoutSeconds: Double) throws -> Int32? {
        let child = try ChildProcess(
            name: "ledger-projector (catch up)", executable: environment.ledgerProjector,
            arguments: arguments + ["--exit-when-caught-up"], environment: variables, logPath: logPath)
        current = child
        return child.waitForExit(timeoutSeconds: timeoutSeconds) ?? child.stopGracefully()
    }
}

/// The throwaway PostgreSQL cluster of scripts/lib.sh, restarted the hard way.
struct PostgresControl {
    let environment: CampaignEnvironment

    /// `pg_ctl restart -m immediate`: the server stops without a checkpoint (like a crash) and recovers at start.
    /// The server's output keeps going to its log file (`-l`), never to this process.
    func restartImmediately() throws {
        let pgCtl = environment.postgresBin + "/pg_ctl"
        let arguments = [
            pgCtl, "-D", environment.postgresData, "-l", environment.postgresLog, "-m", "immediate", "-w",
            "-t", "\(ChaosLimits.postgresRestartTimeoutSeconds)", "restart",
        ]
        let shell = ["/bin/bash", "-c", Self.closeInheritedDescriptors]
        // The server refuses to run as root: as root, become the cluster's owner (setpriv only execs: no PAM
        // session, no extra process), from /, which that user may enter.
        let result =
            getuid() == 0
            ? try Command.run(
                "/usr/bin/setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups"] + shell + arguments,
                directory: "/")
            : try Command.run(shell[0], Array(shell.dropFirst()) + arguments)
        guard result.status == 0 else {
            throw CampaignError("pg_ctl restart failed (\(result.status)): \(result.errorOutput.suffix(1000))")
        }
    }

    /// pg_ctl leaves the server running as a daemon that inherits pg_ctl's descriptors, among them the one
    /// Foundation's `Process` watches to see its child exit: the child would never look finished. So a shell closes
    /// every descriptor above 2, then becomes pg_ctl ("$0" "$@").
    private static let closeInheritedDescriptors =
        #"for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec "$0" "$@""#

    /// One statement or query through psql, unaligned, tab-separated, no headers.
    func query(_ sql: String) throws -> [[String]] {
        let result = try Command.output(
            environment.psql,
            [environment.postgresURL, "-X", "-q", "-t", "-A", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        return result.text.split(separator: "\n", omittingEmptySubsequences: true).map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }
}
