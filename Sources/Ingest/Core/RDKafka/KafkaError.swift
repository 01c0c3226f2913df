import CRDKafka

/// A failure reported by librdkafka or the broker: its error name (e.g. `_TRANSPORT`, `OFFSET_OUT_OF_RANGE`),
/// librdkafka's text, and where it happened.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// librdkafka's stable error name (`rd_kafka_err2name`), e.g. "NOT_COORDINATOR" or "_TIMED_OUT".
    public let name: String
    public let message: String
    public let context: [(String, String)]
    /// Whether librdkafka reports this as an out-of-range offset (data deleted before it was consumed).
    public let isOffsetOutOfRange: Bool
    /// Whether the partition simply reached its end (not an error for a consumer).
    public let isPartitionEOF: Bool

    init(_ code: rd_kafka_resp_err_t, _ message: String? = nil, _ context: [(String, String)] = []) {
        name = String(cString: rd_kafka_err2name(code))
        self.message = message ?? String(cString: rd_kafka_err2str(code))
        self.context = context
        isOffsetOutOfRange = code == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE || code == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET
        isPartitionEOF = code == RD_KAFKA_RESP_ERR__PARTITION_EOF
    }

    /// An error of this wrapper itself (configuration, a handle that could not be created).
    init(client message: String, _ context: [(String, String)] = []) {
        name = "client"
        self.message = message
        self.context = context
        isOffsetOutOfRange = false
        isPartitionEOF = false
    }

    public var description: String {
        let details = context.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        return "kafka \(name): \(message)" + (details.isEmpty ? "" : " (\(details))")
    }
}
