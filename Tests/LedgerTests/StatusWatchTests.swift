import Foundation
import LedgerTesting
import Testing

@testable import Ledger

/// Issue 13: `ledger-tool status --watch` redraws in place on a terminal (a real one: tmux, read back with
/// capture-pane) and prints plain refreshes, without terminal control codes, when its output is not a terminal.
@Suite struct StatusWatchTests {
    @Test func watchRedrawsInPlaceOnATerminal() throws {
        let scratch = ScratchDirectory()
        let writer = try LedgerWriter(directory: scratch.file("ledger"))
        try writer.appendSamples(0..<2_000, perCommit: 500, close: false)
        let session = "pulse-status-\(getpid())"
        let tool = try BuiltProducts.path(of: "ledger-tool")
        try tmux(
            "new-session", "-d", "-s", session, "-x", "160", "-y", "40",
            "\(tool) status --no-kafka --watch --interval 0.2 --wal \(scratch.file("ledger"))")
        defer { _ = try? tmux("kill-session", "-t", session) }
        var screen = try pane(session, showing: "durable LSN 2,000", within: 20)
        try writer.appendSamples(2_000..<3_000, perCommit: 500)
        screen = try pane(session, showing: "durable LSN 3,000", within: 20)
        // Several refreshes went by, and the terminal shows exactly one: each replaced the one before.
        #expect(screen.components(separatedBy: "Pulse Ledger status at").count == 2, "\(screen)")
        #expect(!screen.contains("durable LSN 2,000"))
    }

    @Test func watchPrintsPlainRefreshesIntoAPipe() throws {
        let scratch = ScratchDirectory()
        try LedgerWriter(directory: scratch.file("ledger")).appendSamples(0..<100, perCommit: 50)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try BuiltProducts.path(of: "ledger-tool"))
        process.arguments = ["status", "--no-kafka", "--watch", "--interval", "0.2", "--wal", scratch.file("ledger")]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        Thread.sleep(forTimeInterval: 1.5)
        process.terminate()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text.components(separatedBy: "Pulse Ledger status at").count >= 4, "\(text)")
        #expect(!text.contains("\u{1B}"), "no terminal control codes in a pipe")
    }

    /// Issue 13: progress goes to standard error, so that standard output holds only the result: on a terminal
    /// the bar shows while `import -o json > file` runs, and the file holds the one JSON line.
    @Test func progressIsDrawnOnStandardErrorOnly() throws {
        let scratch = ScratchDirectory()
        let generated = try ProductRun("ledger-tool", ["generate", "--count", "150000", "--seed", "9"])
        try generated.output.write(toFile: scratch.file("orders.jsonl"), atomically: true, encoding: .utf8)
        let session = "pulse-progress-\(getpid())"
        let tool = try BuiltProducts.path(of: "ledger-tool")
        try tmux(
            "new-session", "-d", "-s", session, "-x", "160", "-y", "20",
            "\(tool) import --wal \(scratch.file("ledger")) -o json \(scratch.file("orders.jsonl")) > \(scratch.file("out.json")); sleep 30"
        )
        defer { _ = try? tmux("kill-session", "-t", session) }
        _ = try pane(session, showing: "Importing", within: 60)
        #expect(
            eventually(seconds: 120) {
                (try? String(contentsOfFile: scratch.file("out.json"), encoding: .utf8))?.hasSuffix("}\n") == true
            })
        let output = try String(contentsOfFile: scratch.file("out.json"), encoding: .utf8)
        #expect(output.split(separator: "\n").count == 1 && output.hasPrefix("{") && !output.contains("Importing"))
    }

    /// The pane's text once it shows `text` (or as it is after `seconds`, for the failure's message).
    private func pane(_ session: String, showing text: String, within seconds: Double) throws -> String {
        var screen = ""
        #expect(
            eventually(seconds: seconds) {
                screen = try tmux("capture-pane", "-p", "-t", session)
                return screen.contains(text)
            }, "\(screen)")
        return screen
    }

    /// Runs tmux (Debian's package, which scripts/test installs) and returns its standard output. Spawned with
    /// posix_spawn, not Foundation's `Process`: `Process` learns that its child ended when a descriptor the child
    /// inherited closes, and the tmux server that `new-session` starts keeps it open for as long as it runs.
    @discardableResult
    private func tmux(_ arguments: String...) throws -> String {
        let capture = NSTemporaryDirectory() + "pulse-tmux-\(getpid())-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: capture) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, capture, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = (["tmux"] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var child = pid_t()
        guard posix_spawn(&child, "/usr/bin/tmux", &actions, nil, argv, environ) == 0 else {
            throw TestFailure("cannot start tmux")
        }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else { throw TestFailure("tmux \(arguments) failed: status \(status)") }
        return (try? String(contentsOfFile: capture, encoding: .utf8)) ?? ""
    }
}
