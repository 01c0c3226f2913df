import Foundation
import KafkaClient
import Ledger
import LedgerTesting
import MessageSchema
import Testing

/// Issue 13: a producer that adds one field (`payment_method`) turned the whole stream into dead letters. With
/// `--unknown-fields ignore` ingest accepts such messages; letters already refused become valid for `dlq replay
/// --unknown-fields ignore`. Real broker, real ledger-ingest processes, the real ledger-tool.
@Suite struct UnknownFieldsTests {
    @Test func ignoredUnknownFieldsAreAcceptedAndTheirDeadLettersBecomeReplayable() throws {
        let scratch = ScratchDirectory()
        let broker = try DevBroker(partitions: 1)
        let producer = try KafkaProducer(properties: ["bootstrap.servers": broker.bootstrap], logger: quietLogger)
        let base =
            #"{"order_id": "ID", "amount": 150.99, "currency": "USD", "timestamp": "2024-01-15T10:30:00Z", "customer_id": "cust_1", "product_category": "books", "payment_method": "card"}"#
        let values = [
            base.replacingOccurrences(of: "ID", with: "6f1c9a0e-8a8b-4c3e-9a57-6f2d1b0c9e11"),
            base.replacingOccurrences(of: "ID", with: "6f1c9a0e-8a8b-4c3e-9a57-6f2d1b0c9e12"),
            base.replacingOccurrences(of: "ID", with: "6f1c9a0e-8a8b-4c3e-9a57-6f2d1b0c9e13")
                .replacingOccurrences(of: "}", with: #", "payment_method": "cash"}"#),
        ]
        for value in values { try producer.produce(topic: "transactions", key: nil, value: Array(value.utf8)) }
        try producer.flush(timeoutMilliseconds: 30_000)
        let ends = try endOffsets(broker.bootstrap, partitions: 1)
        var kinds: [String: [String]] = [:]
        for (name, policy) in [("strict", "reject"), ("lenient", "ignore")] {
            let ledger = scratch.file(name)
            let ingest = try startIngest(
                brokers: broker.bootstrap, ledger: ledger, group: name, extra: ["--unknown-fields", policy],
                logPath: scratch.file("\(name).log"))
            try waitUntilCaughtUp([ledger], ends: ends, timeoutSeconds: 60)
            #expect(ingest.stop() == 0)
            kinds[name] = try ledgerEntries(ledger).map { entry in
                if case .rejected(let rejected) = entry.record.body { return rejected.rejection.reason.code }
                return entry.record.kind.description
            }
        }
        #expect(kinds["strict"] == ["unknown_field", "unknown_field", "duplicate_key"])
        #expect(kinds["lenient"] == ["accepted", "accepted", "duplicate_key"])
        // After the switch, the letters the strict ledger refused are valid now (the repeated key is not).
        let replay = try ProductRun(
            "ledger-tool",
            [
                "dlq", "replay", "--wal", scratch.file("strict"), "--brokers", broker.bootstrap, "--unknown-fields",
                "ignore", "--dry-run", "-o", "json",
            ])
        let report = try JSONSerialization.jsonObject(with: Data(replay.output.utf8)) as? [String: Any]
        #expect(report?["now_valid"] as? Int == 2 && report?["still_invalid"] as? Int == 1, "\(replay.output)")
    }
}
