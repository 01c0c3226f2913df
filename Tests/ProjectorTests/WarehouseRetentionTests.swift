import Foundation
import Ledger
import LedgerTesting
import Testing

@testable import Projector

extension Warehouse {
    /// Issue 14, optional warehouse retention (`ledger-projector --retention-days N`).
    @Suite struct Retention {
        /// With N = 30, today and the 29 days before it are kept: daily partitions of older days are dropped with
        /// their rows, and rows of the DEFAULT partition before them deleted; `message_keys` is untouched, so an
        /// order of a dropped day recorded again by another ledger (another Kafka message: its conflict check
        /// finds no row to compare with) is still recognised and not inserted twice, and the projector goes on.
        @Test func oldDaysAreDroppedAndTheirOrdersStayKnown() throws {
            try withHandLedger { ledger, schema, scratch in
                let day: Int64 = 86_400_000_000
                let now = Int64(Date().timeIntervalSince1970) * 1_000_000
                // Days old: dropped, dropped (the first day past the 30 kept), kept, kept, far past (DEFAULT).
                let ages: [Int64] = [40, 30, 29, 0, 4_000]
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
                #expect(try rows() == 5)
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
                        ["{\(HandLedger.orderID(3).uuidString),\(HandLedger.orderID(4).uuidString)}"]) == 2)
                #expect(try partitions() == before - 2, "the days 40 and 30 back went; the DEFAULT partition stays")
                #expect(try connection.integer("SELECT count(*) FROM \(schema.table("message_keys"))") == 5)
                // The same order in a second ledger, from another Kafka message (a producer's retry).
                let second = try HandLedger(directory: scratch.file("second"), firstOffset: 1_000)
                _ = try second.accept(HandLedger.transaction(1, cents: 100, microseconds: now - 40 * day))
                try second.close()
                try projectInProcess([ledger.directory, second.directory], into: schema)
                #expect(try rows() == 2, "the dropped day's order is still known: not inserted again")
            }
        }
    }
}
