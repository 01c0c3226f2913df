import Foundation
import LedgerTesting
import MessageSchema
import OperatingErrors
import PostgresClient
import Testing

@testable import Ledger
@testable import Projector

/// The transform step on its own: exact money, the fraud rule, batch ids, UTC days. No database.
struct TransformTests {
    /// Another rate, worked out by hand: 7.25 % half-up; the rate's text as PostgreSQL gives numeric(6,5).
    @Test func aVersionedRateIsExactAndParsed() {
        let rate = TaxRate(version: 2, hundredThousandths: 7_250)
        #expect(rate.taxCents(amountCents: 100) == 7)  // 1.00 → 0.0725 → 0.07
        #expect(rate.taxCents(amountCents: 200) == 15)  // 2.00 → 0.145 → 0.15 (half up)
        // 9,999,999,999.99 × 7.25 % = 724,999,999.999275 → 725,000,000.00
        #expect(rate.taxCents(amountCents: 999_999_999_999) == 72_500_000_000)
        #expect(RateBook.hundredThousandths("0.08500") == 8_500 && RateBook.hundredThousandths("0.1") == 10_000)
        #expect(RateBook.hundredThousandths("1.00000") == nil && RateBook.hundredThousandths("0.123456") == nil)
    }

    /// The version in force at a time: the latest that started at or before it; the first before any.
    @Test func theVersionInForceIsTheLatestStartedByThen() {
        let book = RateBook(
            taxRates: [
                .init(from: 2_000, value: TaxRate(version: 3, hundredThousandths: 3)),
                .init(from: .min, value: .original),
                .init(from: 1_000, value: TaxRate(version: 2, hundredThousandths: 2)),
            ],
            amountRules: [.init(from: .min, value: .original)])
        #expect([0, 999, 1_000, 1_999, 2_000, .max].map { book.taxRate(at: $0).version } == [1, 1, 2, 2, 3, 3])
        #expect(book.amountRule(at: 5_000) == .original)
    }

    /// Edge amounts, with tax, total and flag worked out by hand (8.5 %, half-up to the cent).
    @Test(arguments: [
        ("0.01", "0.00", "0.01", false),  // 0.00085
        ("0.05", "0.00", "0.05", false),  // 0.00425
        ("0.06", "0.01", "0.07", false),  // 0.0051
        ("0.10", "0.01", "0.11", false),  // 0.0085
        ("1.00", "0.09", "1.09", false),  // 0.085: exactly half, up (banker's rounding would say 0.08)
        ("5.00", "0.43", "5.43", false),  // 0.425: exactly half, up (banker's: 0.42)
        ("999.99", "85.00", "1084.99", false),  // 84.99915
        ("1000.00", "85.00", "1085.00", false),  // the threshold itself is not fraud: amount > 1000
        ("1000.01", "85.00", "1085.01", true),  // 85.00085
        ("9999999999.99", "850000000.00", "10849999999.99", true),  // the largest amount; total needs NUMERIC(13,2)
    ])
    func taxTotalAndFlagOnEdgeAmounts(amount: String, tax: String, total: String, flagged: Bool) throws {
        let cents = try #require(ProjectionSession.parseCents(amount))
        #expect(Cents(rawValue: Transform.taxCents(amountCents: cents)).description == tax)
        #expect(Cents(rawValue: Transform.totalCents(amountCents: cents)).description == total)
        #expect(AmountRule.original.flags(amountCents: cents) == flagged)
    }

    /// Integer tax agrees with decimal arithmetic (Foundation Decimal, NSDecimalRound .plain) for every amount up
    /// to 2 000.00 and for random amounts up to the maximum.
    @Test func taxAgreesWithDecimalArithmetic() {
        var random = SplitMix64(seed: 85)
        let small = (1...200_000).map { Int64($0) }
        let large = (0..<20_000).map { _ in Int64(random.next() % UInt64(Cents.maximum.rawValue)) + 1 }
        var mismatches: [Int64] = []
        for cents in small + large {
            let decimalTax = Oracle.tax(Decimal(cents) / 100)
            if Decimal(Transform.taxCents(amountCents: cents)) / 100 != decimalTax { mismatches.append(cents) }
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5))")
    }

    @Test func batchIDsArePureFunctionsOfLedgerAndLSNBlock() throws {
        let ledger = try #require(UUID(uuidString: "3F2A0000-0000-4000-8000-00000000009C"))
        let other = try #require(UUID(uuidString: "3F2A0000-0000-4000-8000-00000000009D"))
        let block = ProjectorLimits.batchLSNBlockSize
        #expect(Transform.batchID(ledgerID: ledger, lsn: 1) == "3f2a000000004000800000000000009c-0")
        #expect(Transform.batchID(ledgerID: ledger, lsn: block) == Transform.batchID(ledgerID: ledger, lsn: 1))
        #expect(Transform.batchID(ledgerID: ledger, lsn: block + 1) == "3f2a000000004000800000000000009c-1")
        #expect(Transform.batchID(ledgerID: ledger, lsn: 1) != Transform.batchID(ledgerID: other, lsn: 1))
        #expect(Transform.lsnRange(ofBlock: 1) == (block + 1)...(2 * block))
        // The original column is VARCHAR(50): the longest possible id must fit.
        #expect(Transform.batchID(ledgerID: ledger, lsn: .max).count <= 50)
    }

    @Test func utcDaysAreFloorDivisionsAcrossEpochsAndLeapDays() throws {
        #expect(UTCCalendar.Day(microsecondsSinceEpoch: 0).description == "1970-01-01")
        #expect(UTCCalendar.Day(microsecondsSinceEpoch: -1).description == "1969-12-31")
        let leap = microseconds(2024, 2, 29, 23, 59, 59, micro: 999_999)
        #expect(UTCCalendar.Day(microsecondsSinceEpoch: leap).description == "2024-02-29")
        #expect(UTCCalendar.Day(microsecondsSinceEpoch: leap + 1).description == "2024-03-01")
        #expect(UTCCalendar.Day(microsecondsSinceEpoch: microseconds(2000, 2, 29, 12)).compact == "20000229")
        #expect(UTCCalendar.Day("2023-02-29") == nil)
        #expect(UTCCalendar.Day("2024-02-29")?.next.description == "2024-03-01")
        #expect(UTCCalendar.Day("0001-01-01")?.startMicroseconds == MessageLimits.timestampMicrosecondsRange.lowerBound)
        #expect(PartitionManager.day(fromPartitionName: "transactions_p20240229")?.description == "2024-02-29")
        #expect(PartitionManager.day(fromPartitionName: "transactions_p20240230") == nil)
        #expect(PartitionManager.day(fromPartitionName: "transactions_default") == nil)
    }

    @Test func centsParseExactlyFromPostgresText() {
        #expect(ProjectionSession.parseCents("1000.00") == 100_000)
        #expect(ProjectionSession.parseCents("12") == 1_200)
        #expect(ProjectionSession.parseCents("0.5") == 50)
        #expect(ProjectionSession.parseCents("-5.05") == -505)
        #expect(ProjectionSession.parseCents("1.234") == nil)
        #expect(ProjectionSession.parseCents("abc") == nil)
        #expect(ProjectionSession.parseCents("92233720368547758.07") == .max)
        #expect(ProjectionSession.parseCents("92233720368547758.08") == nil)
    }

    @Test func schemaNamesAreValidatedIdentifiers() throws {
        for good in ["warehouse", "_w1", "t_0123456789abcdef"] {
            #expect(throws: Never.self) { try WarehouseSchema(good) }
        }
        for bad in ["", "Warehouse", "1w", "pg_catalog", "w-1", "w\"; drop", String(repeating: "w", count: 41)] {
            #expect(throws: ProjectorError.self) { try WarehouseSchema(bad) }
        }
        #expect(WarehouseSchema.quote("a\"b") == "\"a\"\"b\"")
        #expect(try WarehouseSchema("w").rebuildShadow.name == "w__rebuild")
    }

    @Test func transientErrorsAreTheOnesWorthRetrying() {
        #expect(ProjectorError(.connectionFailed, "").isTransient)
        #expect(ProjectorError(.postgres, "", [("sqlstate", "57P01")]).isTransient)  // admin shutdown
        #expect(ProjectorError(.postgres, "", [("sqlstate", "53100")]).isTransient)  // disk full
        #expect(ProjectorError(.postgres, "", [("sqlstate", "40001")]).isTransient)  // serialization failure
        #expect(!ProjectorError(.postgres, "", [("sqlstate", "23505")]).isTransient)  // unique violation
        #expect(!ProjectorError(.postgres, "", [("sqlstate", "42501")]).isTransient)  // insufficient privilege
        #expect(!ProjectorError(.unprojectableRecord, "").isTransient)
        #expect(!ProjectorError(.schemaTooNew, "").isTransient)
    }
}

/// Turning records into rows: what is checked, what is skipped, what stops.
struct BatchBuilderTests {
    let ledgerID = UUID(uuidString: "11111111-2222-4333-8444-555555555555")!

    private func entry(_ lsn: UInt64, _ body: RecordBody, raw: [UInt8]? = nil) -> LedgerEntry {
        LedgerEntry(
            lsn: lsn,
            record: Record(
                source: SourceCoordinates(topic: "transactions", partition: 2, offset: Int64(lsn) + 100),
                ingestTimeMicroseconds: 1_767_225_600_000_000 + Int64(lsn), body: body))
    }

    private func transaction(_ number: Int, customer: String = "cust_1") -> Transaction {
        HandLedger.transaction(number, cents: 150_000, microseconds: microseconds(2024, 1, 15, 10), customer: customer)
    }

    @Test func everyKindOfRecordIsAccountedFor() throws {
        let accepted = transaction(1)
        let entries = [
            entry(7, .accepted(accepted)),
            entry(8, .duplicate(accepted, originalLSN: 7)),
            entry(9, .conflict(transaction(1, customer: "cust_\"9\""), originalLSN: 7)),
            entry(
                10,
                .rejected(
                    RejectedMessage(rejection: Rejection(.invalidUTF8), rawBytes: [0x7B, 0xFF], originalByteCount: 2))),
            entry(
                11,
                .rejected(
                    RejectedMessage(
                        rejection: Rejection(.wrongType, field: "amount"), rawBytes: Array("{\"amount\": \"1\"}".utf8),
                        originalByteCount: 15))),
            entry(12, .gap(lastMissingOffset: 120)),
        ]
        var builder = BatchBuilder(ledgerID: ledgerID, rates: .original, quarantine: false)
        let (batch, stop) = builder.build(entries)
        #expect(stop == nil)
        #expect(batch.firstLSN == 7 && batch.lastLSN == 12)
        #expect(batch.transactions.count == 1 && batch.duplicates.count == 1 && batch.gaps.count == 1)
        let row = try #require(batch.transactions.first)
        #expect(row.taxCents == 12_750 && row.totalCents == 162_750 && row.isFraudFlagged && row.rulesVersion == 1)
        #expect(row.batchID == "11111111222243338444555555555555-0" && row.source.offset == 107)
        #expect(batch.rejections.map(\.kind) == [.conflict, .rejected, .rejected])
        let conflict = batch.rejections[0]
        #expect(
            conflict.reason == "conflicting_duplicate" && conflict.field == "order_id" && conflict.originalLSN == 7
                && conflict.orderID == accepted.orderID)
        #expect(
            conflict.rawText?.contains(#""customer_id": "cust_\"9\"""#) == true,
            "conflicts show their content as JSON: \(conflict.rawText ?? "nil")")
        #expect(
            batch.rejections[1].rawText == nil && batch.rejections[1].rawBytes == [0x7B, 0xFF],
            "bytes that are not UTF-8 stay bytes")
        #expect(batch.rejections[2].rawText == "{\"amount\": \"1\"}" && batch.rejections[2].field == "amount")
        #expect(batch.gaps.first?.firstOffset == 112 && batch.gaps.first?.lastOffset == 120)
    }

    @Test func anUnprojectableRecordEndsTheBatchBeforeIt() throws {
        let entries = [
            entry(1, .accepted(transaction(1))), entry(2, .accepted(transaction(2, customer: "bad\u{0}id"))),
            entry(3, .accepted(transaction(3))),
        ]
        var builder = BatchBuilder(ledgerID: ledgerID, rates: .original, quarantine: false)
        let (batch, stop) = builder.build(entries)
        let error = try #require(stop)
        #expect(error.code == .unprojectableRecord)
        #expect(
            error.context("ledger.lsn") == "2" && error.context("ledger.id") == ledgerID.uuidString.lowercased()
                && error.context("reason") == "nul_in_text")
        #expect(batch.lastLSN == 1 && batch.transactions.count == 1, "what precedes it is still committed")
    }

    @Test func quarantineSetsTheRecordAsideAndGoesOn() {
        let entries = [
            entry(1, .accepted(transaction(1))), entry(2, .accepted(transaction(2, customer: "bad\u{0}id"))),
            entry(3, .accepted(transaction(3))),
        ]
        var builder = BatchBuilder(ledgerID: ledgerID, rates: .original, quarantine: true)
        let (batch, stop) = builder.build(entries)
        #expect(stop == nil && batch.lastLSN == 3 && batch.transactions.count == 2)
        #expect(batch.quarantined.map(\.lsn) == [2] && batch.quarantined.first?.reason.hasPrefix("nul_in_text") == true)
    }

    /// VARCHAR(50) counts code points: 50 two-byte letters fit, 25 letters with a combining accent (50 scalars)
    /// fit, 26 of them (52 scalars, though 26 characters to Swift) do not.
    @Test(arguments: [
        (String(repeating: "é", count: 50), true), (String(repeating: "e\u{301}", count: 25), true),
        (String(repeating: "e\u{301}", count: 26), false), (String(repeating: "c", count: 51), false),
    ])
    func textLimitsCountCodePoints(customer: String, fits: Bool) {
        var builder = BatchBuilder(ledgerID: ledgerID, rates: .original, quarantine: false)
        let (_, stop) = builder.build([entry(1, .accepted(transaction(1, customer: customer)))])
        #expect((stop == nil) == fits)
        if !fits { #expect(stop?.context("reason") == "text_too_long") }
    }

    @Test func timestampsOutsideYearsOneToNineThousandNineHundredNinetyNineAreRefused() {
        var late = transaction(1)
        late.timestamp = UTCTimestamp(microsecondsSinceEpoch: MessageLimits.timestampMicrosecondsRange.upperBound + 1)
        var builder = BatchBuilder(ledgerID: ledgerID, rates: .original, quarantine: false)
        let (_, stop) = builder.build([entry(1, .accepted(late))])
        #expect(stop?.context("reason") == "timestamp_out_of_range")
    }
}

/// The binary COPY encoder, read back by an independent decoder written from the PostgreSQL manual.
struct BinaryCopyTests {
    /// Decodes one binary numeric field (length-prefixed) into a Decimal.
    private func decodeNumeric(_ bytes: [UInt8]) -> (value: Decimal, scale: Int, length: Int) {
        func int16(_ at: Int) -> Int { Int(Int16(bitPattern: UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]))) }
        let length = Int(
            Int32(
                bitPattern: UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])))
        let (count, weight, sign, scale) = (int16(4), int16(6), int16(8), int16(10))
        var value = Decimal(0)
        for index in 0..<count {
            var power = Decimal(1)
            let exponent = weight - index
            for _ in 0..<abs(exponent) { power = exponent > 0 ? power * 10_000 : power / 10_000 }
            value += Decimal(int16(12 + 2 * index)) * power
        }
        return (sign == 0x4000 ? -value : value, scale, length)
    }

    @Test(
        arguments: [
            0, 1, 10, 99, 100, 1_000, 10_000, 12_345, 100_000, 1_000_000, 1_000_001, 123_456_789, 999_999_999_999, -505,
        ] as [Int64])
    func numericsRoundTrip(cents: Int64) {
        var buffer = BinaryCopyBuffer()
        buffer.appendNumeric(cents: cents)
        let decoded = decodeNumeric(buffer.bytes)
        #expect(decoded.value == Decimal(cents) / 100)
        #expect(decoded.scale == 2)
        #expect(decoded.length == buffer.bytes.count - 4)
    }

    @Test func framingFollowsTheManual() {
        var buffer = BinaryCopyBuffer()
        buffer.appendHeader()
        #expect(buffer.bytes == Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0])
        buffer.removeAll()
        buffer.beginTuple(fieldCount: 3)
        buffer.appendTimestamp(microsecondsSinceUnixEpoch: 946_684_800_000_001)  // 2000-01-01T00:00:00.000001Z
        buffer.appendNull()
        buffer.appendText("é")
        buffer.appendTrailer()
        #expect(
            buffer.bytes == [0, 3] + [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1] + [0xFF, 0xFF, 0xFF, 0xFF] + [
                0, 0, 0, 2, 0xC3, 0xA9,
            ] + [0xFF, 0xFF])
    }
}
