import CRDKafka
import OperatingErrors

/// librdkafka's and the broker's area of operating errors. Codes are librdkafka's stable error names
/// (`rd_kafka_err2name`, e.g. "NOT_COORDINATOR" or "_TIMED_OUT"), or `client` for this wrapper's own.
public enum KafkaDomain: ErrorDomain {
    public static var descriptionPrefix: String { "kafka " }
}

/// A failure reported by librdkafka or the broker, in the project's one error shape: the error name as its code,
/// librdkafka's text, and where it happened.
public typealias KafkaError = OperatingError<KafkaDomain>

extension OperatingError.Code where Domain == KafkaDomain {
    /// An error of this wrapper itself (configuration, a handle that could not be created).
    public static var client: Self { Self("client") }
}

extension OperatingError where Domain == KafkaDomain {
    package init(_ code: rd_kafka_resp_err_t, _ message: String? = nil, _ context: [(String, String)] = []) {
        self.init(
            Code(String(cString: rd_kafka_err2name(code))), message ?? String(cString: rd_kafka_err2str(code)), context)
    }

    package init(client message: String, _ context: [(String, String)] = []) {
        self.init(.client, message, context)
    }

    /// librdkafka's error name, e.g. "NOT_COORDINATOR".
    public var name: String { code.name }
    /// Whether librdkafka reports this as an out-of-range offset (data deleted before it was consumed).
    public var isOffsetOutOfRange: Bool { code.name == "OFFSET_OUT_OF_RANGE" || code.name == "_AUTO_OFFSET_RESET" }
    /// Whether the partition simply reached its end (not an error for a consumer).
    public var isPartitionEOF: Bool { code.name == "_PARTITION_EOF" }
}
