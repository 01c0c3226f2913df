import ArgumentParser
import Foundation

@main
struct LedgerChaos: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-chaos",
        abstract:
            "The fault campaign: the whole pipeline under load and injected faults, judged against an oracle built from what the topic holds.",
        discussion: """
            Run it through scripts/chaos, which builds the binaries and starts a throwaway PostgreSQL cluster (PULSE_TEST_POSTGRES_URL, \
            _DATA, _BIN, _LOG). It starts its own development broker, ledger-ingest instance(s) and ledger-projector, produces with \
            `ledger-tool produce --record`, injects the faults drawn from --seed, lets everything drain, reads the topic back with \
            kcat, and checks the ledgers, the warehouse and the dead-letter topic against what the topic holds (and the topic against \
            what the producer was acknowledged for). Exit 0 only if every check passed and every fault took effect.
            """)

    @Option(help: "Seed of the fault schedule and of the load (printed first; the same seed replays the same faults).")
    var seed: UInt64?
    @Option(help: "Faults to inject (default: 100, or one of each kind, 14, with --short).") var faults: Int?
    @Flag(help: "The short form (run by scripts/test): every kind of fault, a smaller load, under 3 minutes.")
    var short = false
    @Option(help: "Ingest instances, each with its own ledger, in one consumer group (1 or 2).") var instances = 1
    @Option(help: "Directory of ledger-tool, ledger-ingest and ledger-projector (default: this program's).") var bin:
        String?
    @Option(help: "Scratch directory, emptied first (default: .scratch/chaos/SEED).") var work: String?
    @Option(help: "Also write the tables to this file.") var report: String?
    @Option(help: .hidden) var tamper: String = Tamper.none.rawValue

    func validate() throws {
        guard (1...2).contains(instances) else { throw ValidationError("--instances is 1 or 2") }
        guard (faults ?? 1) >= 1 else { throw ValidationError("--faults is at least 1") }
        guard Tamper(rawValue: tamper) != nil else {
            throw ValidationError("--tamper is one of \(Tamper.allCases.map(\.rawValue))")
        }
    }

    func run() throws {
        let seed = self.seed ?? UInt64.random(in: 1...999_999_999)
        let output = Report(path: report)
        output.line("seed \(seed)")
        Self.stopChildrenOnSignals()
        let profile = short ? CampaignProfile.short : CampaignProfile.long
        let binaries =
            bin
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        let workPath = URL(fileURLWithPath: work ?? ".scratch/chaos/\(seed)").standardizedFileURL.path
        let environment = try CampaignEnvironment.fromProcessEnvironment(binaries: binaries, work: workPath)
        let settings = Campaign.Settings(
            seed: seed, profile: profile, faults: faults ?? profile.faults, instances: instances,
            tamper: Tamper(rawValue: tamper)!)
        let passed: Bool
        do {
            passed = try Campaign(settings: settings, environment: environment, report: output).run()
        } catch {
            output.line("campaign error (not a verdict on the system): \(error)")
            output.save()
            ChildRegistry.shared.killAll()
            throw ExitCode(2)
        }
        output.save()
        if !passed { throw ExitCode(1) }
    }

    /// SIGINT/SIGTERM: kill every child this campaign started (by pid), then exit. SIGPIPE is ignored: a write to
    /// a child that is gone (the dev-broker's commands) then fails with an error that names it, and the campaign
    /// stops its other children instead of dying with them left running.
    private static func stopChildrenOnSignals() {
        signal(SIGPIPE, SIG_IGN)
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                ChildRegistry.shared.killAll()
                Foundation.exit(130)
            }
            source.resume()
            signalSources.append(source)
        }
    }

    nonisolated(unsafe) private static var signalSources: [any DispatchSourceSignal] = []
}
