import Foundation

/// Faults of the archive (issue 14), on each ingest instance's `file://` archive. kill -9 in the middle of an upload
/// needs no kind of its own: every instance ships a segment every second or so, and `ingestKill` lands in uploads.
extension FaultInjector {
    /// One byte of an archived segment object flipped, as bit rot in the store would. ledger-ingest reads the whole
    /// archive back when it starts (kills restart it often) and uploads the object again; the final check reads
    /// every object back too.
    func corruptArchivedSegment(_ ingest: IngestInstance, _ fault: PlannedFault) throws -> (
        FaultEvent.Outcome, String
    ) {
        // Only objects whose segment is still local: the archived copy of a segment `retain` deleted is the only
        // one, and damage to it is a loss no ledger can repair (reported by every reader, tested in RetentionTests).
        let objects = archivedSegments(ingest).filter {
            FileManager.default.fileExists(atPath: ingest.ledger + "/" + ($0 as NSString).lastPathComponent)
        }
        guard !objects.isEmpty else { return (.notFired, "nothing archived and still local") }
        let object = objects[fault.failingOperation % objects.count]
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: object))
        defer { try? handle.close() }
        let offset = UInt64(fault.tornBytes)
        try handle.seek(toOffset: offset)
        guard let byte = try handle.read(upToCount: 1)?.first else { return (.notFired, "object shorter than that") }
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: [byte ^ 0x20])
        return (.injected, "\((object as NSString).lastPathComponent) at byte \(offset)")
    }

    /// The archive unreachable: its directory replaced by a plain file for a while (every upload and read fails,
    /// as with a store that refuses connections), then put back. Ingest must go on, count the failures and catch up.
    func takeArchiveDown(_ ingest: IngestInstance, _ fault: PlannedFault) throws -> (FaultEvent.Outcome, String) {
        let away = ingest.archive + ".down"
        let manager = FileManager.default
        guard manager.fileExists(atPath: ingest.archive) else { return (.notFired, "no archive yet") }
        try manager.moveItem(atPath: ingest.archive, toPath: away)
        _ = manager.createFile(atPath: ingest.archive, contents: Data("down".utf8))
        sleepSupervising(seconds: Double(fault.holdMilliseconds) / 1000)
        try manager.removeItem(atPath: ingest.archive)
        try manager.moveItem(atPath: away, toPath: ingest.archive)
        return (.injected, "")
    }

    /// The disk died, and the runbook's drill is carried out under load: kill -9 the instance and stop the
    /// projector, put the ledger aside, restore it from the archive, rebuild the warehouse from every ledger (the
    /// restored one's history after the restored LSN may differ from what the warehouse projected), restart both.
    /// The restored ingest re-reads from Kafka what the archive lacked: the oracle finds every offset once.
    ///
    /// With several instances, the others are stopped first and started again only once the restored one has
    /// moved the group's offsets back to its own (`ingest.restore_marker_removed`): they would start the partitions
    /// they get at the group's offsets, which count what the lost ledger held, and skip it (seed 45220261 lost
    /// 1,355 offsets so, before ledger-ingest refused to run a restored ledger beside other instances).
    func loseLedger(_ ingest: IngestInstance, _ fault: PlannedFault) throws -> (FaultEvent.Outcome, String) {
        guard archivedSegments(ingest).count >= 1 else { return (.notFired, "nothing archived yet") }
        // Every instance is stopped below and started again after: an armed file fault elsewhere must settle first,
        // or its watcher would start an instance this already started.
        waitUntilSettled()
        var didRestore = false
        ingest.current?.killHard()
        if let run = projector.current { stopGracefully(run) }
        let others = ingests.filter { $0 !== ingest }
        for other in others { if let run = other.current { stopGracefully(run) } }
        defer {
            if ingest.current?.isRunning != true { _ = try? ingest.start() }
            if didRestore && ingest.current?.isRunning == true { waitForMarkerRemoved(ingest) }
            for other in others where other.current?.isRunning != true { _ = try? other.start() }
            if projector.current?.isRunning != true { _ = try? projector.start() }
        }
        let lost = ingest.ledger + ".lost-\(fault.number)"
        try FileManager.default.moveItem(atPath: ingest.ledger, toPath: lost)
        let restore = try Command.run(
            environment.ledgerTool,
            ["restore", "--from", "file://" + ingest.archive, "--wal", ingest.ledger, "-o", "json"],
            timeoutSeconds: ChaosLimits.maintenanceTimeoutSeconds)
        guard restore.status == 0 else {
            // An archived object damaged by `archiveCorrupted` and not yet repaired: the restore refuses it, as it
            // must. Put the ledger back and try again later.
            try? FileManager.default.removeItem(atPath: ingest.ledger)
            try FileManager.default.moveItem(atPath: lost, toPath: ingest.ledger)
            return (.notFired, "restore refused: \(restore.errorOutput.suffix(200))")
        }
        didRestore = true
        try rebuildWarehouse()
        let restored = restore.text.firstMatch(of: /"durable_lsn":(\d+)/).map { String($0.1) } ?? "?"
        return (.injected, "restored through LSN \(restored)")
    }

    /// Waits (without supervising: the other instances are stopped on purpose) until the restored instance logs
    /// that the group agrees with its ledger; a run that exits or takes too long is a finding.
    private func waitForMarkerRemoved(_ ingest: IngestInstance) {
        guard let run = ingest.current else { return }
        let deadline = Date().addingTimeInterval(ChaosLimits.maintenanceTimeoutSeconds)
        while run.isRunning && !run.output().contains("ingest.restore_marker_removed") && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        if !run.output().contains("ingest.restore_marker_removed") {
            findings.append(
                Finding(
                    check: "restored ingests that did not move the group back",
                    detail:
                        "ledger-ingest \(ingest.name) at \(Int(elapsed)) s: \(run.isRunning ? "still waiting" : "exited")"
                ))
        }
    }

    private func rebuildWarehouse() throws {
        let rebuild = try Command.run(
            environment.ledgerTool,
            ["rebuild", "warehouse"] + ingests.flatMap { ["--wal", $0.ledger] } + [
                "--schema", ChaosLimits.warehouseSchema, "--reader-role", "", "--verify",
            ], environment: projector.variables, timeoutSeconds: ChaosLimits.maintenanceTimeoutSeconds)
        if rebuild.status != 0 {
            findings.append(
                Finding(
                    check: "warehouse rebuilds after a restore that failed",
                    detail: "exit \(rebuild.status) at \(Int(elapsed)) s: \(rebuild.errorOutput.suffix(400))"))
        }
    }

    private func archivedSegments(_ ingest: IngestInstance) -> [String] {
        let ledgers = (try? FileManager.default.contentsOfDirectory(atPath: ingest.archive)) ?? []
        return ledgers.sorted().flatMap { ledger -> [String] in
            let folder = ingest.archive + "/" + ledger + "/segments"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return names.filter { $0.hasSuffix(".seg") }.sorted().map { folder + "/" + $0 }
        }
    }
}

/// What an instance's archive holds at the end of a run, judged against its ledger: a last `ledger-tool archive
/// --check contents` (reads every object back; ships what the last seconds sealed; repairs what the faults
/// damaged) must succeed, and a ledger restored from the archive must be the ledger's first records, one for one.
struct ArchiveContents {
    var name: String
    var archiveStatus: Int32
    var archiveErrors: String
    var repaired: Int
    var restoreStatus: Int32
    var restoreErrors: String
    /// Restored records, and how many of them differ from the ledger's record at the same position.
    var restoredRecords = 0
    var differences: [String] = []
    /// `ingest.archive.failed` lines in the instance's log: uploads that failed and were retried.
    var failedRuns = 0

    static func judge(_ ingest: IngestInstance, ledger: LedgerContents, environment: CampaignEnvironment) throws
        -> ArchiveContents
    {
        let url = "file://" + ingest.archive
        let archive = try Command.run(
            environment.ledgerTool,
            ["archive", "--wal", ingest.ledger, "--to", url, "--check", "contents", "-o", "json"],
            timeoutSeconds: ChaosLimits.maintenanceTimeoutSeconds)
        let restoredPath = environment.work + "/archive-check-\(ingest.name)"
        let restore = try Command.run(
            environment.ledgerTool, ["restore", "--from", url, "--wal", restoredPath, "-o", "json"],
            timeoutSeconds: ChaosLimits.maintenanceTimeoutSeconds)
        var contents = ArchiveContents(
            name: ingest.name, archiveStatus: archive.status, archiveErrors: archive.errorOutput,
            repaired: archive.text.firstMatch(of: /"repaired":\[([^\]]*)\]/).map {
                $0.1.split(separator: ",").count
            } ?? 0,
            restoreStatus: restore.status, restoreErrors: restore.errorOutput)
        contents.failedRuns =
            ((try? String(contentsOfFile: ingest.logPath, encoding: .utf8)) ?? "").components(
                separatedBy: "ingest.archive.failed"
            ).count - 1
        if restore.status == 0 {
            let restored = try LedgerContents.read(
                name: ingest.name + " (restored)", directory: restoredPath, ledgerTool: environment.ledgerTool)
            contents.restoredRecords = restored.records.count
            contents.differences = zip(restored.records, ledger.records).enumerated().compactMap { index, pair in
                pair.0.offset == pair.1.offset && pair.0.kind == pair.1.kind
                    ? nil
                    : "LSN \(index + 1): restored \(pair.0.kind) \(pair.0.offset), ledger \(pair.1.kind) \(pair.1.offset)"
            }
            if restored.records.count > ledger.records.count {
                contents.differences.append("more records than the ledger")
            }
        }
        return contents
    }

    var checks: [Check] {
        let label = "archive \(name):"
        return [
            Check.info("\(label) archive runs that failed in ledger-ingest (retried)", "\(failedRuns)"),
            Check(
                name: "\(label) last ledger-tool archive --check contents", expected: "exit 0",
                found: "exit \(archiveStatus), \(repaired) objects uploaded again", passed: archiveStatus == 0,
                examples: archiveStatus == 0 ? [] : [String(archiveErrors.suffix(400))]),
            Check(
                name: "\(label) ledger-tool restore from it", expected: "exit 0", found: "exit \(restoreStatus)",
                passed: restoreStatus == 0 && restoredRecords > 0,
                examples: restoreStatus == 0 ? [] : [String(restoreErrors.suffix(400))]),
            Check.none(
                "\(label) restored records that differ from the ledger's (\(restoredRecords) restored)", differences),
        ]
    }
}
