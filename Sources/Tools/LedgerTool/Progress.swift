import ConsoleKitTerminal
import Foundation
import Synchronization

/// A progress bar with count, rate and ETA, drawn on standard error when it is a terminal; silent otherwise
/// (logs, pipes, CI), where a bar would only be noise. Standard output carries only the result.
final class ProgressReporter {
    private let indicator: ActivityIndicator<ProgressBar>?
    private let title: String
    private let unit: String
    private let started = Date()
    private var lastUpdate = Date.distantPast

    init(title: String, unit: String) {
        self.title = title
        self.unit = unit
        indicator = isatty(STDERR_FILENO) == 1 ? StandardErrorConsole().progressBar(title: title) : nil
        indicator?.start(refreshRate: 10)
    }

    /// Reports `done` units and the completed fraction (nil when the total is unknown, e.g. standard input).
    func update(done: Int, fraction: Double?) {
        guard let indicator else { return }
        let now = Date()
        guard now.timeIntervalSince(lastUpdate) >= 0.1 else { return }
        lastUpdate = now
        let elapsed = now.timeIntervalSince(started)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var text = "\(title) \(grouped(done)) \(unit) \(grouped(Int(rate)))/s"
        if let fraction, fraction > 0.001 {
            text += " ETA \(Int(elapsed / fraction - elapsed))s"
        }
        indicator.activity.title = text
        indicator.activity.currentProgress = fraction ?? 0
    }

    func finish(succeeded: Bool) {
        guard let indicator else { return }
        indicator.activity.currentProgress = 1
        succeeded ? indicator.succeed() : indicator.fail()
    }
}

/// ConsoleKit's terminal draws on standard output; this console draws the same progress bar on standard error,
/// so that standard output carries only the command's result (`-o json` included) and a bar never mixes into it.
final class StandardErrorConsole: Console {
    private let info = Mutex<[AnySendableHashable: any Sendable]>([:])

    var userInfo: [AnySendableHashable: any Sendable] {
        get { info.withLock { $0 } }
        set { info.withLock { $0 = newValue } }
    }

    var size: (width: Int, height: Int) {
        var window = winsize()
        _ = ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &window)
        return (Int(window.ws_col), Int(window.ws_row))
    }

    func input(isSecure: Bool) -> String { "" }  // progress never asks

    func output(_ text: ConsoleText, newLine: Bool) { write(text.description + (newLine ? "\n" : "")) }

    /// ANSI: cursor up and erase the line (the bar's last drawing), or erase the screen.
    func clear(_ type: ConsoleClear) {
        switch type {
        case .line: write("\u{1B}[1A\u{1B}[2K")
        case .screen: write("\u{1B}[2J")
        }
    }

    func report(error: String, newLine: Bool) { write(error + (newLine ? "\n" : "")) }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
