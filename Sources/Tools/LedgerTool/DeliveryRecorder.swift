import DeliveryRecord
import Foundation
import Ingest
import KafkaClient
import Ledger
import LedgerTesting
import OperatingErrors

/// `ledger-tool produce --record FILE`: one JSON line per acknowledged message (`DeliveryRecordLine`), written as
/// the delivery reports arrive, so a fault test can build its oracle from what was really produced rather than
/// from the system under test.
final class DeliveryRecorder {
    private let path: String
    private let handle: FileHandle
    private let encoder = JSONEncoder()
    /// Messages sent and not yet acknowledged, by tag; bounded by librdkafka's queue (queue.buffering.max.messages).
    private var inFlight: [Int: (key: [UInt8]?, value: [UInt8]?, intent: MessageGenerator.Intent?)] = [:]

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else {
            throw RecordError("cannot create the delivery record \(path)")
        }
        self.path = path
        self.handle = handle
        encoder.outputFormatting = [.sortedKeys]
    }

    func sent(tag: Int, key: [UInt8]?, value: [UInt8]?, intent: MessageGenerator.Intent?) {
        inFlight[tag] = (key, value, intent)
    }

    func write(_ deliveries: [KafkaProducer.Delivery]) throws {
        guard !deliveries.isEmpty else { return }
        var text = Data()
        for delivery in deliveries {
            guard let message = inFlight.removeValue(forKey: delivery.tag) else {
                throw RecordError(
                    "delivery report for message \(delivery.tag), which was not sent or was already acknowledged")
            }
            let (intent, reason) = Self.describe(message.intent)
            text += try encoder.encode(
                DeliveryRecordLine(
                    partition: Int(delivery.partition), offset: Int(delivery.offset), seq: delivery.tag,
                    intent: intent, reason: reason, key: message.key, value: message.value))
            text.append(0x0A)
        }
        try handle.write(contentsOf: text)
    }

    func close() throws {
        try handle.synchronize()
        try handle.close()
        guard inFlight.isEmpty else {
            throw RecordError("\(inFlight.count) message(s) were never acknowledged (see \(path))")
        }
    }

    private static func describe(_ intent: MessageGenerator.Intent?) -> (String, String?) {
        switch intent {
        case .valid: ("valid", nil)
        case .duplicate: ("duplicate", nil)
        case .conflict: ("conflict", nil)
        case .invalid(let reason): ("invalid", reason.code)
        case nil: ("unknown", nil)
        }
    }
}

/// A delivery record that cannot be written or does not add up.
struct RecordError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
