import ConsoleKitTerminal
import Foundation

/// A progress bar with count, rate and ETA on a terminal; silent when standard output is not a terminal (logs,
/// pipes, CI), where a bar would only be noise.
final class ProgressReporter {
    private let indicator: ActivityIndicator<ProgressBar>?
    private let title: String
    private let unit: String
    private let started = Date()
    private var lastUpdate = Date.distantPast

    init(title: String, unit: String) {
        self.title = title
        self.unit = unit
        indicator = isatty(STDOUT_FILENO) == 1 ? Terminal().progressBar(title: title) : nil
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
