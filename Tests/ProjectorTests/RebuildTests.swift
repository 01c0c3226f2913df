import Foundation
import Ledger
import LedgerTesting
import MessageSchema
import OperatingErrors
import Testing

@testable import Projector

extension Warehouse {
    /// Invariant 5, rebuild equals incremental, and the rebuild's promises: --until, --verify, atomic swap,
    /// an interrupted rebuild leaves the live warehouse untouched.
    @Suite struct Rebuild {
        private func options(
            _ ledger: GeneratedLedger, _ schema: WarehouseSchema, limit: WarehouseRebuild.Limit? = nil,
            verify: Bool = true
        ) throws -> WarehouseRebuild.Options {
            WarehouseRebuild.Options(
                ledgerDirectories: [ledger.directory], postgresURL: try TestPostgres.url(), schema: schema,
                limit: limit, verify: verify)
        }

        /// Incremental projection (small transactions, a projector that follows and is running during the swap)
        /// and a rebuild (large transactions) give identical rows, batch ids included; the running projector
        /// notices the swap and goes on in the new schema.
        @Test func rebuildEqualsIncremental() throws {
            try withFollowedLedger(seed: 31, records: 20_000, batches: (700, 20)) { ledger, schema, projector in
                let connection = try TestPostgres.connect()
                #expect(
                    eventually(seconds: 60) { try connection.checkpoint(schema, ledger.ledgerID) == ledger.durableLSN })
                let incremental = try connection.contentDigest(schema)
                var progressCalls = 0
                let report = try WarehouseRebuild(options: try options(ledger, schema), logger: quietLogger).run(
                    progress: { done, total in
                        progressCalls += 1
                        #expect(done <= total && total == ledger.durableLSN)
                    })
                #expect(
                    report.records == ledger.durableLSN && report.rows == ledger.oracle.orderIDs.count
                        && report.rejections == ledger.oracle.rejected)
                #expect(report.verifiedDays == ledger.oracle.days.count && progressCalls >= 1)
                #expect(try connection.contentDigest(schema) == incremental, "rebuild equals incremental, row for row")
                #expect(
                    try connection.integer(
                        "SELECT count(*) FROM pg_namespace WHERE nspname LIKE $1", [schema.name + "\\_\\_%"]) == 0,
                    "no shadow or retired schema left")
                // The projector, still running, carries on in the swapped-in schema.
                try ledger.append(3_000)
                #expect(
                    eventually(seconds: 60) { try connection.checkpoint(schema, ledger.ledgerID) == ledger.durableLSN },
                    "\(projector.log.suffix(800))")
                try expectWarehouseMatches(ledger, schema: schema, connection: connection)
                #expect(projector.log.contains("projector.checkpoint.moved"), "the projector saw the swap")
            }
        }

        /// An idle projector (no new records) notices within seconds that a rebuild set the warehouse back to a
        /// point: it starts over from the rebuilt checkpoint and carries on to the end of the ledger, as documented
        /// (stop it first to keep the warehouse at that point), and its metrics follow.
        @Test func anIdleProjectorNoticesARebuildSwappedIn() throws {
            try withGeneratedLedger(seed: 43) { ledger, schema, scratch in
                try ledger.append(3_000)
                let (projector, port) = try startFollowingProjector(
                    ledger.directory, into: schema, scratch: scratch, textLog: true)
                defer { _ = projector.stop() }
                let connection = try TestPostgres.connect()
                #expect(
                    eventually(seconds: 60) { try connection.checkpoint(schema, ledger.ledgerID) == ledger.durableLSN })
                _ = try WarehouseRebuild(options: try options(ledger, schema, limit: .lsn(1_000)), logger: quietLogger)
                    .run()
                let rebuilt = Date()
                let expectedMetric =
                    "projector_checkpoint_lsn{ledger_id=\"\(ledger.ledgerID.uuidString.lowercased())\"} \(ledger.durableLSN)"
                #expect(
                    eventually(seconds: Double(ProjectorLimits.idleCheckpointCheckIntervalSeconds) + 10) {
                        try connection.checkpoint(schema, ledger.ledgerID) == ledger.durableLSN
                            && (try httpGet(port: port, path: "/metrics").body.contains(expectedMetric))
                    }, "\(projector.log.suffix(800))")
                #expect(
                    Date().timeIntervalSince(rebuilt) < Double(ProjectorLimits.idleCheckpointCheckIntervalSeconds) + 10)
                #expect(projector.log.contains("projector.checkpoint.moved"), "the projector saw the swap")
                try expectWarehouseMatches(ledger, schema: schema, connection: connection)
            }
        }

        /// Issue 11: a following projector kept the ledger index it opened; after `ledger-tool rebuild index`
        /// replaced the file it saw the old durable LSN forever (lag 0, healthy, no alert) and never projected
        /// what ingest wrote next. It now notices the new index, re-reads where the ledger stands, and goes on.
        @Test func aFollowingProjectorNoticesARebuiltLedgerIndex() throws {
            let scratch = ScratchDirectory()
            try TestPostgres.withSchema { schema in
                let directory = scratch.file("ledger")
                let first = try HandLedger(directory: directory)
                for number in 1...200 {
                    try first.accept(
                        HandLedger.transaction(
                            number, cents: 1_000, microseconds: microseconds(2024, 7, 1, 8, number % 60)))
                }
                try first.close()
                let (projector, _) = try startFollowingProjector(
                    directory, into: schema, scratch: scratch, textLog: true)
                defer { _ = projector.stop() }
                let connection = try TestPostgres.connect()
                #expect(eventually(seconds: 60) { try connection.checkpoint(schema, first.ledgerID) == 200 })
                _ = try LedgerMaintenance.rebuildIndex(directory: directory)
                let second = try HandLedger(directory: directory, firstOffset: 201)
                for number in 201...300 {
                    try second.accept(
                        HandLedger.transaction(
                            number, cents: 1_000, microseconds: microseconds(2024, 7, 1, 9, number % 60)))
                }
                try second.close()
                #expect(
                    eventually(seconds: 30) { try connection.checkpoint(schema, first.ledgerID) == 300 },
                    "\(projector.log.suffix(800))")
                #expect(try connection.integer("SELECT count(*) FROM \(schema.transactions)") == 300)
            }
        }

        /// --until LSN and --until TIMESTAMP give the warehouse as of that point: exactly the oracle of the first
        /// part of the stream.
        @Test(arguments: ["lsn", "timestamp", "timestamp between records"])
        func rebuildUntilGivesTheWarehouseAsOfThatPoint(limitKind: String) throws {
            try withGeneratedLedger(seed: 41) { ledger, schema, scratch in
                try ledger.append(7_000)
                let cut = ledger.durableLSN
                let oracleAtCut = ledger.oracle
                try ledger.append(5_000)
                let ingestedAtCut = GeneratedLedger.ingestMicroseconds(offset: Int64(cut))
                let limit: WarehouseRebuild.Limit =
                    switch limitKind {
                    case "lsn": .lsn(cut)
                    case "timestamp": .ingestedBy(microsecondsSinceEpoch: ingestedAtCut)
                    default: .ingestedBy(microsecondsSinceEpoch: ingestedAtCut + 999)
                    }
                let report = try WarehouseRebuild(
                    options: try options(ledger, schema, limit: limit), logger: quietLogger
                ).run()
                #expect(report.ledgers.map(\.lastLSN) == [cut])
                let connection = try TestPostgres.connect()
                #expect(try connection.checkpoint(schema, ledger.ledgerID) == cut)
                #expect(try connection.dailyDigest(schema) == oracleAtCut.days)
                #expect(
                    try connection.integer("SELECT count(*) FROM \(schema.rejectedMessages)") == oracleAtCut.rejected)
                // A projector started afterwards resumes from the rebuilt checkpoint and completes the warehouse.
                try projectInProcess([ledger.directory], into: schema)
                try expectWarehouseMatches(ledger, schema: schema, connection: connection)
            }
        }

        /// `rebuild warehouse --from-archive`: the warehouse rebuilt from an S3 archive alone equals the one rebuilt
        /// from the local ledger through the archive's last LSN, and the staging directory is gone afterwards.
        @Test func aRebuildFromTheArchiveEqualsOneFromTheLedger() throws {
            let scratch = ScratchDirectory()
            let ledger = try GeneratedLedger(directory: scratch.file("ledger"), seed: 43, segmentBytes: 64 << 10)
            try ledger.append(8_000)
            ledger.close()
            let archive = try TestArchive(.s3)
            let archived = try LedgerArchive.archive(directory: ledger.directory, to: archive.target)
            #expect(archived.uploaded.count >= 2)
            try TestPostgres.withSchema { schema in
                let staging = scratch.file("staging")
                try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
                let run = try ProductRun(
                    "ledger-tool",
                    [
                        "rebuild", "warehouse", "--from-archive", archive.url, "--staging", staging, "--verify",
                        "--postgres", try TestPostgres.url(), "--schema", schema.name, "-o", "json",
                    ], environment: try archive.environment())
                #expect(run.status == 0, "\(run.errors)")
                #expect(run.output.contains("\"last_lsn\":\(archived.archivedThroughLSN)"), "\(run.output)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: staging).isEmpty, "staging removed")
                let connection = try TestPostgres.connect()
                let fromArchive = try connection.contentDigest(schema)
                _ = try WarehouseRebuild(
                    options: try options(ledger, schema, limit: .lsn(archived.archivedThroughLSN)), logger: quietLogger
                ).run()
                #expect(try connection.contentDigest(schema) == fromArchive)
                #expect(try connection.checkpoint(schema, ledger.ledgerID) == archived.archivedThroughLSN)
            }
        }

        /// `retain --postgres`: only segments the warehouse's checkpoint has passed are deleted; the projector goes
        /// on past them, and a rebuild afterwards reads the deleted ones from the archive and equals the
        /// incremental warehouse row for row.
        @Test func retentionFollowsTheCheckpointAndARebuildReadsTheArchive() throws {
            let scratch = ScratchDirectory()
            let ledger = try GeneratedLedger(directory: scratch.file("ledger"), seed: 53, segmentBytes: 64 << 10)
            let archive = try TestArchive(.s3)
            try TestPostgres.withSchema { schema in
                let retain = {
                    try ProductRun(
                        "ledger-tool",
                        [
                            "retain", "--wal", ledger.directory, "--archive", archive.url, "--postgres",
                            try TestPostgres.url(), "--schema", schema.name, "--keep-sealed-segments", "0",
                        ], environment: try archive.environment())
                }
                try ledger.append(4_000)
                try projectInProcess([ledger.directory], into: schema)
                let checkpoint = ledger.durableLSN
                try ledger.append(4_000)
                _ = try LedgerArchive.archive(directory: ledger.directory, to: archive.target)
                let first = try retain()
                #expect(first.status == 0 && first.output.contains("past the lowest warehouse checkpoint"), "\(first)")
                let evicted = try #require(try EvictedSegments.read(in: ledger.directory))
                let sealed = try LedgerReader(directory: ledger.directory).segments().filter(\.sealed)
                #expect(!evicted.segments.isEmpty && evicted.lastLSN <= checkpoint)
                #expect(sealed.contains { $0.lastLSN > evicted.lastLSN }, "archived segments past the checkpoint stay")
                try projectInProcess([ledger.directory], into: schema)
                let second = try retain()
                #expect(second.status == 0, "\(second.errors)")
                #expect(try EvictedSegments.read(in: ledger.directory)?.lastLSN == sealed.last?.lastLSN)
                let connection = try TestPostgres.connect()
                let incremental = try connection.contentDigest(schema)
                let rebuilt = try ProductRun(
                    "ledger-tool",
                    [
                        "rebuild", "warehouse", "--wal", ledger.directory, "--verify", "--postgres",
                        try TestPostgres.url(), "--schema", schema.name,
                    ], environment: try archive.environment())
                #expect(rebuilt.status == 0, "\(rebuilt.errors)")
                #expect(try connection.contentDigest(schema) == incremental)
                // ledger-projector itself, into a new warehouse: every evicted segment comes from the archive.
                try TestPostgres.withSchema { fresh in
                    let projected = try ProductRun(
                        "ledger-projector",
                        [
                            "--wal", ledger.directory, "--postgres", try TestPostgres.url(), "--schema", fresh.name,
                            "--exit-when-caught-up", "--metrics-port", "0",
                        ], environment: try archive.environment())
                    #expect(projected.status == 0, "\(projected.errors.suffix(600))")
                    #expect(try connection.contentDigest(fresh) == incremental)
                }
            }
        }

        /// A ledger restored from an archive after its disk died, then written on past the warehouse's checkpoint
        /// (ledger-ingest re-reading from Kafka, possibly in another order): the projector refuses to go on from
        /// that checkpoint, and after a rebuild from the restored ledger it goes on. A warehouse whose checkpoint is
        /// at or before the restored LSN is projected from the new history without a rebuild.
        @Test func aRestoredLedgerIsProjectedOnlyFromItsOwnHistory() throws {
            let scratch = ScratchDirectory()
            let lost = try GeneratedLedger(directory: scratch.file("lost"), seed: 47, segmentBytes: 64 << 10)
            try lost.append(6_000)
            let archive = try TestArchive(.file)
            let archivedThrough = try LedgerArchive.archive(directory: lost.directory, to: archive.target)
                .archivedThroughLSN
            try lost.append(300)  // acknowledged after the last archive run: only on the lost disk
            lost.close()
            let restored = scratch.file("restored")
            _ = try LedgerArchive.restore(from: archive.target, ledgerID: lost.ledgerID, to: restored)
            #expect(try LedgerHistory.latestFork(in: restored)?.afterLsn == archivedThrough)
            try TestPostgres.withSchema { schema in
                try projectInProcess([lost.directory], into: schema)
                #expect(try TestPostgres.connect().checkpoint(schema, lost.ledgerID) > archivedThrough)
                // The new history grows past the checkpoint, as ingest re-reading from Kafka would make it.
                let resumed = try HandLedger(directory: restored, firstOffset: 100_000)
                for number in 0..<3_000 {
                    try resumed.accept(
                        HandLedger.transaction(
                            900_000 + number, cents: 1_999, microseconds: microseconds(2026, 1, 2, 3, 4, 5)))
                }
                try resumed.close()
                let error = try #require(throws: ProjectorError.self) { try projectInProcess([restored], into: schema) }
                #expect(error.message.contains("restored from an archive"), "\(error)")
                _ = try WarehouseRebuild(
                    options: WarehouseRebuild.Options(
                        ledgerDirectories: [restored], postgresURL: try TestPostgres.url(), schema: schema, verify: true
                    ),
                    logger: quietLogger
                ).run()
                try projectInProcess([restored], into: schema)
            }
            try TestPostgres.withSchema { fresh in
                try projectInProcess([restored], into: fresh)
                #expect(try TestPostgres.connect().checkpoint(fresh, lost.ledgerID) == resumedDurable(restored))
            }
        }

        private func resumedDurable(_ directory: String) throws -> UInt64 {
            try LedgerReader(directory: directory).durableLSN()
        }

        /// A rebuild stopped before its swap (signal, crash, error) leaves the live warehouse exactly as it was; the
        /// next rebuild discards the leftover shadow and succeeds.
        @Test func anInterruptedRebuildLeavesTheLiveWarehouseUntouched() throws {
            try withGeneratedLedger(seed: 51) { ledger, schema, scratch in
                try ledger.append(6_000)
                try projectInProcess([ledger.directory], into: schema)
                let connection = try TestPostgres.connect()
                let before = try connection.contentDigest(schema)
                var options = try options(ledger, schema)
                options.transactionRecords = 1_000
                var batches = 0
                let error = #expect(throws: ProjectorError.self) {
                    try WarehouseRebuild(options: options, logger: quietLogger).run(shouldStop: {
                        batches += 1
                        return batches > 3
                    })
                }
                #expect(error?.code == .interrupted)
                #expect(try connection.contentDigest(schema) == before, "live warehouse untouched")
                #expect(
                    try connection.integer("SELECT count(*) FROM \(schema.rebuildShadow.transactions)") == 3_000
                        - ledger.rejectionsThrough[3_000]
                        - (3_000 - ledger.rowsThrough[3_000] - ledger.rejectionsThrough[3_000]),
                    "the shadow holds the three batches done")
                let report = try WarehouseRebuild(options: options, logger: quietLogger).run()
                #expect(report.records == ledger.durableLSN)
                #expect(try connection.contentDigest(schema) == before)
                #expect(
                    try connection.integer(
                        "SELECT count(*) FROM pg_namespace WHERE nspname = $1", [schema.rebuildShadow.name]) == 0)
            }
        }

        @Test func verificationComparesEveryDayBothWays() {
            var day = DayDigest()
            day.transactions = 2
            day.amountCents = 300
            var other = day
            other.taxCents = 1
            let first = UTCCalendar.Day("2024-01-01")!
            let second = UTCCalendar.Day("2024-01-02")!
            #expect(WarehouseDigest.differences(expected: [first: day], found: [first: day]).isEmpty)
            #expect(WarehouseDigest.differences(expected: [first: day], found: [first: other]).count == 1)
            #expect(
                WarehouseDigest.differences(expected: [first: day], found: [first: day, second: day]) == [
                    "2024-01-02: ledger says \(DayDigest()); warehouse has \(day)"
                ])
            #expect(
                WarehouseDigest.differences(expected: [first: day, second: DayDigest()], found: [first: day]).isEmpty,
                "an emptied day is no day")
        }

        /// `ledger-tool trace --postgres` shows the order's warehouse row, and its conflicting duplicates.
        @Test func traceShowsTheWarehouseRowOfAnOrder() throws {
            try withHandLedger { ledger, schema, scratch in
                let transaction = HandLedger.transaction(
                    7, cents: 123_456, microseconds: microseconds(2024, 2, 29, 18, 30))
                let lsn = try ledger.accept(transaction)
                var changed = transaction
                changed.amount = Cents(rawValue: 1)
                try ledger.append(.conflict(changed, originalLSN: lsn))
                try ledger.close()
                try projectInProcess([ledger.directory], into: schema)
                let lines = try WarehouseLookup.describe(
                    orderID: transaction.orderID, postgresURL: try TestPostgres.url(), schema: schema)
                let text = lines.joined(separator: "\n")
                for fact in [
                    "\(schema.name).transactions:", "transactions_p20240229", "1234.56", "104.94", "1339.50",
                    "2024-02-29 18:30:00+00",
                    "\(schema.name).rejected_messages:", "conflicting_duplicate",
                ] {
                    #expect(text.contains(fact), "trace shows \(fact):\n\(text)")
                }
                let missing = try WarehouseLookup.describe(
                    orderID: HandLedger.orderID(999), postgresURL: try TestPostgres.url(), schema: schema)
                #expect(missing.count == 1 && missing[0].contains("no row"))
            }
        }
    }
}
