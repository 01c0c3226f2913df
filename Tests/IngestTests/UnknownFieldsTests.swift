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
        let trace = ("traceparent", Array("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".utf8))
        for value in values {
            try producer.produce(topic: "transactions", key: nil, value: Array(value.utf8), headers: [trace])
        }
        try producer.flush(timeoutMilliseconds: 30_000)
        let ends = try endOffsets(broker.bootstrap, partitions: 1)
        var kinds: [String: [String]] = [:]
        var records: [String: [Record]] = [:]
        for (name, policy) in [("strict", "reject"), ("lenient", "ignore"), ("keeping", "keep")] {
            let ledger = scratch.file(name)
            let ingest = try startIngest(
                brokers: broker.bootstrap, ledger: ledger, group: name, extra: ["--unknown-fields", policy],
                logPath: scratch.file("\(name).log"))
            try waitUntilCaughtUp([ledger], ends: ends, timeoutSeconds: 60)
            #expect(ingest.stop() == 0)
            records[name] = try ledgerEntries(ledger).map(\.record)
            kinds[name] = try ledgerEntries(ledger).map { entry in
                if case .rejected(let rejected) = entry.record.body { return rejected.rejection.reason.code }
                return entry.record.kind.description
            }
        }
        #expect(kinds["strict"] == ["unknown_field", "unknown_field", "duplicate_key"])
        #expect(kinds["lenient"] == ["accepted", "accepted", "duplicate_key"])
        #expect(kinds["keeping"] == ["accepted", "accepted", "duplicate_key"])
        // Kept: the extra member with the order, and every message's headers (trace context) with its record.
        #expect(
            records["keeping"]?.prefix(2).map { $0.transaction?.extraMembers }
                == Array(repeating: #"{"payment_method":"card"}"#, count: 2))
        #expect(records["lenient"]?.first?.transaction?.extraMembers == nil)
        let kept = MessageHeader(name: Array(trace.0.utf8), value: trace.1)
        #expect(records.values.allSatisfy { $0.allSatisfy { $0.source.headers == [kept] } })
        // The dead letters carry the message's own headers before the reason's.
        let letters = try deadLetters(broker.bootstrap, expectedAtLeast: 3)
        #expect(letters.count >= 3 && letters.values.allSatisfy { $0["traceparent"] != nil && $0["reason"] != nil })
        // After the switch, the letters the strict ledger refused are valid now (the repeated key is not).
        let replay = try ProductRun(
            "ledger-tool",
            [
                "dlq", "replay", "--wal", scratch.file("strict"), "--brokers", broker.bootstrap, "--unknown-fields",
                "ignore", "--dry-run", "-o", "json",
            ])
        let report = try JSONSerialization.jsonObject(with: Data(replay.output.utf8)) as? [String: Any]
        #expect(report?["now_valid"] as? Int == 2 && report?["still_invalid"] as? Int == 1, "\(replay.output)")
        // Replayed for real, onto a topic of its own: each message goes with the headers the ledger kept.
        let replayed = try ProductRun(
            "ledger-tool",
            [
                "dlq", "replay", "--wal", scratch.file("strict"), "--brokers", broker.bootstrap, "--unknown-fields",
                "ignore", "--topic", "replayed",
            ])
        #expect(replayed.status == 0, "\(replayed.errors)")
        let consumer = try KafkaConsumer(
            properties: [
                "bootstrap.servers": broker.bootstrap, "group.id": "replay-reader", "auto.offset.reset": "earliest",
            ],
            logger: quietLogger, handlers: RebalanceHandlers(assigned: { _ in [:] }, revoking: { _ in }))
        try consumer.subscribe(["replayed"])
        var headers: [[String: String]] = []
        let deadline = Date().addingTimeInterval(30)
        while headers.count < 2 && Date() < deadline {
            _ = try consumer.consumeBatch(maxMessages: 10, timeoutMilliseconds: 200, includeHeaders: true) { message in
                guard message.error == nil else { return }
                let pairs = message.headers.map { ($0.name, String(decoding: $0.value ?? [], as: UTF8.self)) }
                headers.append(Dictionary(pairs) { $1 })
            }
        }
        #expect(
            headers.count == 2
                && headers.allSatisfy {
                    $0["traceparent"] == String(decoding: trace.1, as: UTF8.self) && $0["replay.of.lsn"] != nil
                }, "\(headers)")
    }
}
