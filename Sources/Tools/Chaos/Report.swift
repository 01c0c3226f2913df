import Foundation

/// Prints the campaign's output: the seed first, progress while it runs, then the fault and check tables
/// (Markdown, so a run can be pasted into docs/CHAOS.md). With `--report FILE`, the tables also go there.
final class Report {
    private var saved: [String] = []
    private let path: String?

    init(path: String?) { self.path = path }

    func line(_ text: String) {
        print(text)
        fflush(nil)
        saved.append(text)
    }

    /// Progress lines go to the terminal only.
    func progress(_ text: String) {
        print(text)
        fflush(nil)
    }

    func faultTable(_ events: [FaultEvent], gracefulStops: Int) {
        line("")
        line("| fault | injected | not fired | first at (s) | last at (s) |")
        line("|---|---:|---:|---:|---:|")
        for kind in FaultKind.allCases {
            let ofKind = events.filter { $0.fault.kind == kind }
            let injected = ofKind.filter { $0.outcome == .injected }
            let first = injected.first.map { String(format: "%.1f", $0.startedAt) } ?? "-"
            let last = injected.last.map { String(format: "%.1f", $0.startedAt) } ?? "-"
            line("| \(kind.rawValue) | \(injected.count) | \(ofKind.count - injected.count) | \(first) | \(last) |")
        }
        let injected = events.filter { $0.outcome == .injected }.count
        line("| **total** | **\(injected)** | \(events.count - injected) | | |")
        line("")
        line(
            "Besides: \(gracefulStops) SIGTERM stops (before each file fault and at the end), each expected to exit 0.")
    }

    func checkTable(_ checks: [Check]) {
        line("")
        line("| check | expected | found | |")
        line("|---|---|---|---|")
        for check in checks {
            line("| \(check.name) | \(check.expected) | \(check.found) | \(check.passed ? "ok" : "**FAIL**") |")
        }
        let failures = checks.filter { !$0.passed && !$0.examples.isEmpty }
        let notes = checks.filter { $0.passed && $0.showsPassingExamples && !$0.examples.isEmpty }
        if !failures.isEmpty || !notes.isEmpty { line("") }
        for check in failures {
            line("FAIL \(check.name): " + check.examples.joined(separator: "; "))
        }
        for check in notes {
            line("\(check.name), e.g.: " + check.examples.joined(separator: "; "))
        }
        line("")
    }

    func save() {
        guard let path else { return }
        _ = FileManager.default.createFile(atPath: path, contents: Data((saved.joined(separator: "\n") + "\n").utf8))
    }
}
