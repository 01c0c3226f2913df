import ArgumentParser
import Foundation
import ServiceKit

/// The exit statuses of every ledger-tool command (docs/CLI.md), so that a script can tell a failed check from a
/// command that could not run. ArgumentParser alone exits 1 for any error and 64 for a usage error.
enum ExitStatus {
    /// A check ran and failed: verify found damage, inspect a corrupt frame, trace nothing for the order.
    static let checkFailed = ExitCode(1)
    /// The command could not run: a usage error, the ledger locked, an I/O error, a service unreachable.
    static let couldNotRun = ExitCode(2)

    /// The status for `error` thrown by parsing or running a command; prints what ArgumentParser would print.
    static func exit(for error: Error) -> Never {
        if (error as? ExitCode) == checkFailed || LedgerTool.exitCode(for: error) == .success {
            LedgerTool.exit(withError: error)  // --help and --version print on standard output, status 0
        }
        printError(LedgerTool.fullMessage(for: error))
        LedgerTool.exit(withError: couldNotRun)
    }
}

do {
    // Settings first: the configuration file (PULSE_CONFIG or --config) supplies defaults the options fall back to.
    try await Settings.load()
    var command = try LedgerTool.parseAsRoot()
    try command.run()
} catch {
    ExitStatus.exit(for: error)
}
