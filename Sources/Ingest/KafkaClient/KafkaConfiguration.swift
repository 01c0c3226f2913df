import CRDKafka
import Logging
import OperatingErrors

/// Builds an `rd_kafka_conf_t` from string properties. The conf is consumed by `rd_kafka_new` on success and
/// destroyed here on failure, so no caller ever owns one.
package enum KafkaConfiguration {
    /// Applies `properties` to a new conf; throws naming the property librdkafka refused (never its value, which
    /// may be a secret).
    package static func make(_ properties: [String: String]) throws -> OpaquePointer {
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
    package static func createHandle(_ type: rd_kafka_type_t, conf: OpaquePointer) throws -> OpaquePointer {
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
package func installLogCallback(_ conf: OpaquePointer) {
    rd_kafka_conf_set_log_cb(conf) { handle, level, facility, text in
        guard let handle, let opaque = rd_kafka_opaque(handle) else { return }
        let owner = Unmanaged<KafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
        let swiftLevel: Logger.Level = level <= 3 ? .error : level == 4 ? .warning : level <= 6 ? .info : .debug
        owner.logger.log(
            level: swiftLevel, "kafka.client.log",
            metadata: [
                "kafka.facility": "\(facility.map { String(cString: $0) } ?? "")",
                "kafka.text": "\(text.map { String(cString: $0) } ?? "")",
            ])
    }
}

/// State the C callbacks reach through the opaque pointer. Owned by the client object (which outlives the
/// handle: the handle is destroyed in the client's deinit before this is released).
package class KafkaCallbackContext {
    package let logger: Logger
    /// Errors librdkafka reported through error_cb since the last check (transport failures, all brokers down).
    package var reportedErrors: [KafkaError] = []

    package init(logger: Logger) {
        self.logger = logger
    }
}
