import Foundation
import Ledger
import LedgerTesting
import Testing

@testable import Projector

extension Warehouse {
    /// Issue 11, across every seam into a real PostgreSQL: what the ledger accepts, the warehouse takes. The
    /// messages are the cross-seam fuzzer's seed corpus (and, when `scripts/fuzz` has run here, the corpus it
    /// grew), plus the values at the edge of every bound: each goes through the appender into a ledger, and
    /// the projector (without `--quarantine`) must account for every record as a row or a rejection.
    @Suite struct Seams {
        /// Values at the edges the bounds draw: years 1 and 9999 in UTC reached through offsets, 50 characters
        /// of 4 bytes, the largest amount, keys that once poisoned the ledger.
        static let edgeMessages: [String] = [
            message(timestamp: "0001-01-01T23:59:00+23:59"), message(timestamp: "9999-12-31T00:00:00-23:59"),
            message(timestamp: "0001-01-01T00:00:00+00:01"), message(timestamp: "9999-12-31T23:59:59-00:01"),
            message(timestamp: "9999-12-31T23:59:59.999999Z"), message(customer: String(repeating: "😀", count: 50)),
            message(customer: String(repeating: "e\u{301}", count: 25)), message(amount: "9999999999.99"),
            message(amount: "0.01"),
            "{\"" + String(repeating: "é", count: 200) + "\":1}", "{\"" + String(repeating: "😀", count: 64) + "\":1}",
            "{\"a\\u0000b\":1}", message(customer: "c\\u0000d"),
        ]

        static func message(
            timestamp: String = "2024-01-15T10:30:00Z", customer: String = "cust_1", amount: String = "150.99"
        ) -> String {
            #"{"order_id":"\#(UUID().uuidString.lowercased())","amount":\#(amount),"currency":"USD","timestamp":"\#(timestamp)","customer_id":"\#(customer)","product_category":"books"}"#
        }

        /// The values of the round-trip fuzzer's corpus files: each file is a 16-byte header, a key whose length
        /// is byte 1 when flag bit 1 of byte 0 is set, then the value (see `FuzzRoundTrip.swift`).
        static func corpusValues() throws -> [[UInt8]?] {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let folders = ["Tests/FuzzCorpus/roundtrip", ".scratch/fuzz/fuzz-roundtrip"].map {
                root.appendingPathComponent($0).path
            }
            var values: [[UInt8]?] = []
            for folder in folders where FileManager.default.fileExists(atPath: folder) {
                for name in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() {
                    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
                    guard bytes.count >= 16 else { continue }
                    let keyLength = bytes[0] & 2 != 0 ? Int(bytes[1]) : 0
                    guard bytes.count >= 16 + keyLength else { continue }
                    values.append(bytes[0] & 1 != 0 ? nil : Array(bytes[(16 + keyLength)...]))
                }
            }
            return values
        }

        @Test func whatTheLedgerAcceptsPostgreSQLTakes() throws {
            let scratch = ScratchDirectory()
            let values = try Self.corpusValues() + Self.edgeMessages.map { Array($0.utf8) }
            #expect(values.count > Self.edgeMessages.count + 20, "the committed corpus is found")
            var accepted = 0
            var rejected = 0
            let directory = scratch.file("ledger")
            do {
                let appender = LedgerAppender(writer: try LedgerWriter(directory: directory))
                for (offset, value) in values.enumerated() {
                    let source = SourceCoordinates(
                        topic: "transactions", partition: 0, offset: Int64(offset), key: Array("k\(offset)".utf8))
                    guard
                        case .appended(_, let kind, _) = try appender.append(
                            value: value, source: source, ingestTimeMicroseconds: 1_767_225_600_000_000)
                    else { continue }
                    if kind == .accepted {
                        accepted += 1
                    } else if kind == .rejected || kind == .conflict {
                        rejected += 1
                    }
                }
                try appender.close()
            }
            try TestPostgres.withSchema { schema in
                try projectInProcess([directory], into: schema)
                let connection = try TestPostgres.connect()
                #expect(try connection.integer("SELECT count(*) FROM \(schema.transactions)") == accepted)
                #expect(try connection.integer("SELECT count(*) FROM \(schema.rejectedMessages)") == rejected)
                #expect(try connection.integer("SELECT count(*) FROM \(schema.table("quarantined_records"))") == 0)
                let years = try connection.query(
                    "SELECT min(transaction_timestamp)::text, max(transaction_timestamp)::text FROM \(schema.transactions)"
                )
                #expect(years.values == [["0001-01-01 00:00:00+00", "9999-12-31 23:59:59.999999+00"]])
            }
        }
    }
}
