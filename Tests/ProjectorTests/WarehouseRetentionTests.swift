import Foundation
import Ledger
import LedgerTesting
import Testing

@testable import Projector

extension Warehouse {
    /// Issue 14, optional warehouse retention (`ledger-projector --retention-days N`).
    @Suite struct Retention {
        /// Daily partitions of days before the N kept are dropped with their rows, and rows of the DEFAULT
        /// partition before them deleted; the kept days and `message_keys` are untouched, so an order of a dropped
        /// day projected again from another ledger is still recognised and not inserted twice.
        @Test func oldDaysAreDroppedAndTheirOrdersStayKnown() throws {
            try withHandLedger { ledger, schema, scratch in
                let day: Int64 = 86_400_000_000
                let now = Int64(Date().timeIntervalSince1970) * 1_000_000
                let ages: [Int64] = [40, 27, 0, 4_000]  // days old: dropped, kept, kept, far past (DEFAULT partition)
                for (number, age) in ages.enumerated() {
                    _ = try ledger.accept(
                        HandLedger.transaction(number + 1, cents: 100, microseconds: now - age * day))
                }
                try ledger.close()
                try projectInProcess([ledger.directory], into: schema)
                let connection = try TestPostgres.connect()
                let rows = { try connection.integer("SELECT count(*) FROM \(schema.transactions)") }
                let partitions = {
                    try connection.integer(
                        "SELECT count(*) FROM pg_inherits WHERE inhparent = $1::regclass", [schema.transactions])
                }
                #expect(try rows() == 4)
                let before = try partitions()
                try ProjectorService.runUntilCaughtUp(
                    configuration: ProjectorConfiguration(
                        ledgerDirectories: [ledger.directory], postgresURL: try TestPostgres.url(), schema: schema,
                        exitWhenCaughtUp: true, retentionDays: 30),
                    logger: quietLogger)
                #expect(try rows() == 2)
                #expect(
                    try connection.integer(
                        "SELECT count(*) FROM \(schema.transactions) WHERE order_id = ANY($1::uuid[])",
                        ["{\(HandLedger.orderID(2).uuidString),\(HandLedger.orderID(3).uuidString)}"]) == 2)
                #expect(try partitions() == before - 1, "the day 40 days back went; the DEFAULT partition stays")
                #expect(try connection.integer("SELECT count(*) FROM \(schema.table("message_keys"))") == 4)
                // The same order, recorded by a second ledger (another ingest instance re-read its offset).
                let second = try HandLedger(directory: scratch.file("second"))
                _ = try second.accept(HandLedger.transaction(1, cents: 100, microseconds: now - 40 * day))
                try second.close()
                try projectInProcess([ledger.directory, second.directory], into: schema)
                #expect(try rows() == 2, "the dropped day's order is still known: not inserted again")
            }
        }
    }
}
