import CRDKafka
import Logging

/// Builds an `rd_kafka_conf_t` from string properties. The conf is consumed by `rd_kafka_new` on success and
/// destroyed here on failure, so no caller ever owns one.
enum KafkaConfiguration {
    /// Applies `properties` to a new conf; throws naming the property librdkafka refused (never its value, which
    /// may be a secret).
    static func make(_ properties: [String: String]) throws -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errorText = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, key, value, &errorText, errorText.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(client: "invalid librdkafka property: \(text(of: errorText))", [("property", key)])
            }
        }
        return conf
    }

    /// Creates a client handle, taking ownership of `conf` (librdkafka frees it on success; we do on failure).
    static func createHandle(_ type: rd_kafka_type_t, conf: OpaquePointer) throws -> OpaquePointer {
        var errorText = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(client: "cannot create Kafka client: \(text(of: errorText))")
        }
        return handle
    }
}

/// Routes librdkafka's log lines (emitted on its own threads) to swift-log, with the logger found through the
/// client's opaque pointer.
func installLogCallback(_ conf: OpaquePointer) {
    rd_kafka_conf_set_log_cb(conf) { handle, level, facility, text in
        guard let handle, let opaque = rd_kafka_opaque(handle) else { return }
        let owner = Unmanaged<KafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
        let swiftLevel: Logger.Level = level <= 3 ? .error : level == 4 ? .warning : level <= 6 ? .info : .debug
        owner.logger.log(level: swiftLevel, "kafka.client.log", metadata: [
            "kafka.facility": "\(facility.map { String(cString: $0) } ?? "")", "kafka.text": "\(text.map { String(cString: $0) } ?? "")",
        ])
    }
}

/// State the C callbacks reach through the opaque pointer. Owned by the client object (which outlives the
/// handle: the handle is destroyed in the client's deinit before this is released).
class KafkaCallbackContext {
    let logger: Logger
    /// Errors librdkafka reported through error_cb since the last check (transport failures, all brokers down).
    var reportedErrors: [KafkaError] = []

    init(logger: Logger) {
        self.logger = logger
    }
}

/// Converts librdkafka's partition list into Swift values. The list stays owned by the caller.
func partitions(of list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [(TopicPartitionOffset)] {
    (0..<Int(list.pointee.cnt)).map { index in
        let element = list.pointee.elems[index]
        return TopicPartitionOffset(topic: String(cString: element.topic), partition: element.partition, offset: element.offset,
                                    error: element.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(element.err))
    }
}

/// Builds a partition list; the caller destroys it with `rd_kafka_topic_partition_list_destroy`.
func makePartitionList(_ entries: [(topic: String, partition: Int32, offset: Int64)]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
    let list = rd_kafka_topic_partition_list_new(Int32(max(entries.count, 1)))!
    for entry in entries {
        rd_kafka_topic_partition_list_add(list, entry.topic, entry.partition).pointee.offset = entry.offset
    }
    return list
}

/// A partition with an offset (or librdkafka's logical offsets: -2 beginning, -1 end, -1001 stored/invalid).
public struct TopicPartitionOffset: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var error: KafkaError?
}

/// librdkafka's logical start offset: the earliest message still in the partition.
public let kafkaOffsetBeginning = Int64(RD_KAFKA_OFFSET_BEGINNING)
/// librdkafka's "no committed offset".
public let kafkaOffsetInvalid = Int64(RD_KAFKA_OFFSET_INVALID)

/// The text of a NUL-terminated C error buffer.
func text(of buffer: [CChar]) -> String {
    String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
