import Foundation

/// One line of `ledger-tool produce --record FILE`: where the broker acknowledged a message, what the generator
/// meant it to be, and its key and value. The contract between the producer that writes the record and the fault
/// campaign's oracle that reads it, so both use this one type (and this target links nothing of the ledger: the
/// campaign judges the ledger, it does not use it).
///
/// A line: `{"intent":"invalid","key":"MjUw","offset":41,"partition":3,"reason":"value_null","seq":250}`.
/// `intent` is the generator's: valid, duplicate, conflict or invalid (with the reason it meant to provoke). `key`
/// and `value` are base64, absent for a null key or value. Messages never acknowledged have no line.
public struct DeliveryRecordLine: Codable, Sendable {
    public var partition: Int
    public var offset: Int
    public var seq: Int
    public var intent: String
    public var reason: String?
    public var key: String?
    public var value: String?

    public init(
        partition: Int, offset: Int, seq: Int, intent: String, reason: String?, key: [UInt8]?, value: [UInt8]?
    ) {
        self.partition = partition
        self.offset = offset
        self.seq = seq
        self.intent = intent
        self.reason = reason
        self.key = key.map { Data($0).base64EncodedString() }
        self.value = value.map { Data($0).base64EncodedString() }
    }

    /// The value's bytes: nil for a null value (or one that is not base64, which the oracle refuses).
    public var decodedValue: Data? { value.flatMap { Data(base64Encoded: $0) } }
    /// The key's bytes: nil for a null key (or one that is not base64, which the oracle refuses).
    public var decodedKey: Data? { key.flatMap { Data(base64Encoded: $0) } }
}
