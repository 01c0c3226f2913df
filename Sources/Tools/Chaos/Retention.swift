import Foundation

/// `ledger-tool retain` during the run (issue 14): every `ChaosLimits.retainIntervalSeconds`, for each instance,
/// behind the projector's checkpoint, into the instance's archive, between faults (never in the middle of one:
/// the injector runs it from its own thread). Each evicted segment is then read only from the archive: by the
/// final read of the ledger, by `verify`, by the warehouse rebuilds after a lost disk and by the archive checks.
struct RetentionRuns {
    var runs = 0
    var evictedSegments = 0
    /// The last line of each failed run's errors (a fault in progress: the archive or PostgreSQL down, an
    /// archived object damaged and not yet repaired, a warehouse not yet rebuilt after a restore).
    var failures: [String] = []
    var lastRun = Date.distantPast

    /// What a refusal says when it is not a fault of the run but damage retention found or made: a local
    /// sealed segment that changed, a record out of order, a chain that broke. Each is a failed check.
    static let damageMarkers = [
        "local copy of an archived segment differs", "brokenChain", "has a gap", "belongs to another ledger",
        "changed while retain ran", "is not the one its record names",
    ]

    var damage: [String] { failures.filter { line in Self.damageMarkers.contains { line.contains($0) } } }

    var checks: [Check] {
        [
            Check(
                name: "ledger-tool retain: segments deleted locally, then read from the archive",
                expected: "at least 1", found: "\(evictedSegments) in \(runs) runs", passed: evictedSegments > 0),
            Check.info(
                "ledger-tool retain runs that refused during a fault (archive or PostgreSQL down, an object damaged)",
                "\(failures.count - damage.count)"
                    + (failures.isEmpty ? "" : ", e.g. \(failures.prefix(3).joined(separator: " / "))")),
            Check.none("ledger-tool retain runs that found damage (not a fault of the run)", damage),
        ]
    }
}

extension FaultInjector {
    /// The instances whose ledger exists (ledger-ingest creates it when it first starts).
    private var ingestsWithLedger: [IngestInstance] {
        ingests.filter { FileManager.default.fileExists(atPath: $0.ledger + "/index.sqlite") }
    }

    /// Runs retention for every instance whose ledger exists, if the interval has passed.
    func retainIfDue() {
        guard Date().timeIntervalSince(retention.lastRun) >= ChaosLimits.retainIntervalSeconds else { return }
        retention.lastRun = Date()
        for ingest in ingestsWithLedger {
            retain(ingest)
        }
    }

    /// After the drain, with every service stopped and the warehouse caught up: archive what the last seconds
    /// sealed, then evict every sealed segment but the last. The final read of each ledger, `verify` and the
    /// archive checks then go through the archive for nearly all of it, however few runs fell in the fault window.
    func retainEverything() {
        for ingest in ingestsWithLedger {
            let archived = try? Command.run(
                environment.ledgerTool,
                ["archive", "--wal", ingest.ledger, "--to", "file://" + ingest.archive, "--check", "sizes"],
                timeoutSeconds: ChaosLimits.maintenanceTimeoutSeconds)
            if archived?.status != 0 {
                retention.failures.append(
                    "\(ingest.name) at the end: archive before the last retain: \(archived?.errorOutput.suffix(200) ?? "did not finish")"
                )
            }
            retain(ingest, keepSealedSegments: 0)
        }
    }

    private func retain(_ ingest: IngestInstance, keepSealedSegments: Int = ChaosLimits.retainKeepSealedSegments) {
        let arguments = [
            "retain", "--wal", ingest.ledger, "--archive", "file://" + ingest.archive, "--schema",
            ChaosLimits.warehouseSchema, "--keep-sealed-segments", "\(keepSealedSegments)", "-o", "json",
        ]
        retention.runs += 1
        guard
            let result = try? Command.run(
                environment.ledgerTool, arguments, environment: projector.variables,
                timeoutSeconds: ChaosLimits.maintenanceTimeoutSeconds)
        else {
            retention.failures.append("\(ingest.name) at \(Int(elapsed)) s: did not finish")
            return
        }
        guard result.status == 0 else {
            let line = result.errorOutput.split(separator: "\n").last.map(String.init) ?? "exit \(result.status)"
            retention.failures.append("\(ingest.name) at \(Int(elapsed)) s: \(line.prefix(300))")
            return
        }
        retention.evictedSegments +=
            result.text.firstMatch(of: /"evicted":\[([^\]]*)\]/).map { $0.1.split(separator: ",").count } ?? 0
    }
}
