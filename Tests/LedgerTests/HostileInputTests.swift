import Foundation
import LedgerTesting
import MessageSchema
import OperatingErrors
import Testing

@testable import Ledger

/// Issue 11: nothing a producer sends may brick the ledger or make durable what a reader or the warehouse
/// refuses. Each test is named after a defect found on main, and goes through the seams (validator → appender
/// → codec → segment → reopen → reader), not through one piece.
@Suite struct HostileInputTests {
    /// Keys whose first 255 bytes end inside a character: 200 × "é" (2 bytes each) and 64 × "😀" (4 bytes
    /// each). The validator kept 256 bytes, the codec wrote 255 (mid-character) and the decoder refused the
    /// frame: after one such message the ledger could not be reopened, read or verified.
    static let poisonMessages: [[UInt8]] = [
        Array(("{\"" + String(repeating: "é", count: 200) + "\":1}").utf8),
        Array(("{\"" + String(repeating: "😀", count: 64) + "\":1}").utf8),
        Array(("{\"" + String(repeating: "a", count: 254) + "é\":1}").utf8),
    ]

    @Test func aPoisonKeyCannotBrickTheLedger() throws {
        let directory = ScratchDirectory()
        do {
            let appender = LedgerAppender(writer: try LedgerWriter(directory: directory.path))
            for (offset, message) in Self.poisonMessages.enumerated() {
                let outcome = try appender.append(
                    value: message, source: Sample.source(offset: Int64(offset)),
                    ingestTimeMicroseconds: 1_705_314_700_000_000)
                guard case .appended(_, .rejected, let rejection?) = outcome else {
                    Issue.record("not rejected: \(outcome)")
                    return
                }
                #expect(rejection.reason == .unknownField)
                #expect(rejection.field.utf8.count <= MessageLimits.rejectionFieldBytesMax)
            }
            try appender.close()
        }
        let report = try LedgerMaintenance.verify(directory: directory.path)
        #expect(report.isConsistent && report.records == UInt64(Self.poisonMessages.count))
        let records = try ledgerEntries(directory.path)
        #expect(records.count == Self.poisonMessages.count)
        for entry in records {
            guard case .rejected(let rejected) = entry.record.body else {
                Issue.record("lsn \(entry.lsn) is not a rejection")
                continue
            }
            #expect(String(decoding: rejected.rawBytes ?? [], as: UTF8.self).contains(rejected.rejection.field))
        }
        let reopened = try LedgerWriter(directory: directory.path)
        #expect(reopened.durableLSN == UInt64(Self.poisonMessages.count))
    }

    /// A rejection's field is cut at a character boundary whoever makes it, and U+0000 never reaches the
    /// warehouse's text columns.
    @Test(arguments: [
        String(repeating: "é", count: 200), String(repeating: "😀", count: 64), String(repeating: "x", count: 300),
        "a\u{0}b", String(repeating: "\u{0}", count: 300),
    ])
    func aRejectionFieldIsAlwaysStorable(field: String) {
        let stored = Rejection(.unknownField, field: field).field
        #expect(stored.utf8.count <= MessageLimits.rejectionFieldBytesMax)
        #expect(!stored.utf8.contains(0))
        #expect(String(validating: Array(stored.utf8), as: UTF8.self) == stored)
        #expect(field.utf8.count > MessageLimits.rejectionFieldBytesMax || field.contains("\u{0}") || stored == field)
    }

    /// "0001-01-01T00:00:00+00:01" and "9999-12-31T23:59:59-00:01" are years 0 and 10000 in UTC: the validator
    /// accepted them and the projector refused them, which stopped it. Now the validator checks the UTC
    /// instant: they are rejected, and the neighbouring instants that are in range are accepted.
    @Test(arguments: [
        ("0001-01-01T00:00:00+00:01", false), ("9999-12-31T23:59:59-00:01", false),
        ("0001-01-01T00:01:00+00:01", true), ("9999-12-31T23:58:59-00:01", true),
    ])
    func timestampsOutsideTheWarehouseRangeAreRejected(timestamp: String, accepted: Bool) throws {
        let directory = ScratchDirectory()
        let appender = LedgerAppender(writer: try LedgerWriter(directory: directory.path))
        let message = Array(
            String(decoding: Sample.json(1), as: UTF8.self).replacingOccurrences(
                of: "2024-01-15T10:30:00Z", with: timestamp
            ).utf8)
        let outcome = try appender.append(
            value: message, source: Sample.source(offset: 0), ingestTimeMicroseconds: 1_705_314_700_000_000)
        guard case .appended(_, let kind, let rejection) = outcome else {
            Issue.record("not appended")
            return
        }
        #expect(kind == (accepted ? .accepted : .rejected))
        if !accepted { #expect(rejection == Rejection(.timestampOutOfRange, field: "timestamp")) }
        try appender.close()
        if accepted, let transaction = try ledgerEntries(directory.path).first?.record.transaction {
            #expect(RecordBounds.violation(in: transaction) == nil)
        }
    }

    /// A record that breaks the bounds every reader shares is refused before a byte of it is written, and the
    /// writer goes on: a bug upstream (a validator letting it through) stops one message, not the ledger.
    @Test func aRecordOutOfBoundsIsRefusedAndTheWriterGoesOn() throws {
        let directory = ScratchDirectory()
        let writer = try LedgerWriter(directory: directory.path)
        try writer.append(Sample.record(0))
        var yearZero = Sample.transaction(1)
        yearZero.timestamp = UTCTimestamp(
            microsecondsSinceEpoch: MessageLimits.timestampMicrosecondsRange.lowerBound - 1)
        var longCustomer = Sample.transaction(2)
        longCustomer.customerID = String(repeating: "😀", count: 51)
        var nul = Sample.transaction(3)
        nul.productCategory = "a\u{0}b"
        for bad in [yearZero, longCustomer, nul] {
            let error = try #require(throws: LedgerError.self) {
                try writer.append(
                    Record(source: Sample.source(offset: 1), ingestTimeMicroseconds: 1, body: .accepted(bad)))
            }
            #expect(error.code == .valueOutOfBounds)
        }
        let error = try #require(throws: LedgerError.self) {
            try writer.append(
                Record(
                    source: Sample.source(offset: 1, topic: String(repeating: "t", count: 256)),
                    ingestTimeMicroseconds: 1_705_314_700_000_000, body: .accepted(Sample.transaction(4))))
        }
        #expect(error.code == .valueOutOfBounds)
        try writer.append(Sample.record(1))
        try writer.close()
        #expect(try ledgerEntries(directory.path).map(\.record) == [Sample.record(0), Sample.record(1)])
    }

    /// The same through the appender, where the transaction's bounds are checked on the core that validated it
    /// (`ValidatedMessage`) and the writer checks only the rest: a validated transaction out of bounds (a
    /// validator bug, made here by hand) and a valid one under a source out of bounds are both refused, and the
    /// appender goes on.
    @Test func theAppenderRefusesARecordOutOfBoundsWhereverItWasChecked() throws {
        let directory = ScratchDirectory()
        let appender = LedgerAppender(writer: try LedgerWriter(directory: directory.path))
        var nul = Sample.transaction(3)
        nul.productCategory = "a\u{0}b"
        let fromABuggyValidator = ValidatedMessage(.success(nul))
        #expect(fromABuggyValidator.boundsViolation?.reason == "nul_in_text")
        let error = try #require(throws: LedgerError.self) {
            try appender.append(
                value: nil, source: Sample.source(offset: 1), ingestTimeMicroseconds: 1,
                validation: fromABuggyValidator)
        }
        #expect(error.code == .valueOutOfBounds && error.description.contains("nul_in_text"))
        let longTopic = try #require(throws: LedgerError.self) {
            try appender.append(
                value: nil, source: Sample.source(offset: 1, topic: String(repeating: "t", count: 256)),
                ingestTimeMicroseconds: 1_705_314_700_000_000,
                validation: ValidatedMessage(.success(Sample.transaction(4))))
        }
        #expect(longTopic.code == .valueOutOfBounds)
        let good = try appender.append(
            value: nil, source: Sample.source(offset: 2), ingestTimeMicroseconds: 1_705_314_700_000_000,
            validation: ValidatedMessage(.success(Sample.transaction(5))))
        #expect(good == .appended(lsn: 1, kind: .accepted, rejection: nil))
        try appender.close()
    }
}
