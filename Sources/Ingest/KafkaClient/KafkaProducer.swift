import CRDKafka
import Foundation
import Logging
import OperatingErrors

/// A librdkafka producer (used for the dead-letter topic and by `ledger-tool produce`). Owns its `rd_kafka_t`,
/// flushed and destroyed in `deinit`. Delivery reports are counted; `flush` says whether all were acknowledged.
public final class KafkaProducer {
    private let handle: OpaquePointer
    private let context: ProducerContext

    final class ProducerContext: KafkaCallbackContext {
        var delivered = 0
        var failures: [KafkaError] = []
        /// Kept only when the owner asked for them (`recordsDeliveries`): the fault campaign's oracle.
        var recordsDeliveries = false
        var deliveries: [Delivery] = []
    }

    /// Where the broker put one acknowledged message; `tag` is the number the caller gave `produce`.
    public struct Delivery: Sendable, Hashable {
        public var tag: Int
        public var partition: Int32
        public var offset: Int64
    }

    /// `properties` are librdkafka's; for the dead-letter topic pass `acks=all` and `enable.idempotence=true`.
    /// With `recordsDeliveries`, each acknowledged message's partition and offset are kept for `takeDeliveries`.
    public init(properties: [String: String], logger: Logger, recordsDeliveries: Bool = false) throws {
        let conf = try KafkaConfiguration.make(properties)
        context = ProducerContext(logger: logger)
        context.recordsDeliveries = recordsDeliveries
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        installLogCallback(conf)
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
            guard let message, let opaque else { return }
            let context = Unmanaged<ProducerContext>.fromOpaque(opaque).takeUnretainedValue()
            if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                context.delivered += 1
                if context.recordsDeliveries {
                    let tag = Int(bitPattern: message.pointee._private)
                    context.deliveries.append(
                        Delivery(tag: tag, partition: message.pointee.partition, offset: message.pointee.offset))
                }
            } else {
                context.failures.append(
                    KafkaError(message.pointee.err, nil, [("partition", "\(message.pointee.partition)")]))
            }
        }
        rd_kafka_conf_set_error_cb(conf) { _, code, reason, opaque in
            guard let opaque else { return }
            let context = Unmanaged<KafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
            context.reportedErrors.append(KafkaError(rd_kafka_resp_err_t(code), reason.map { String(cString: $0) }))
        }
        handle = try KafkaConfiguration.createHandle(RD_KAFKA_PRODUCER, conf: conf)
    }

    deinit {
        rd_kafka_flush(handle, 10_000)
        rd_kafka_destroy(handle)
    }

    /// How many partitions `topic` has. Asking before the first message also readies the producer for the topic:
    /// librdkafka 2.0.2 holds a first message to a topic it has no metadata for about a second.
    public func partitionCount(_ topic: String, timeoutMilliseconds: Int = 10_000) throws -> Int {
        try topicPartitionCount(handle, topic, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Queues one message (copied by librdkafka). `partition` nil lets the partitioner choose (by key).
    /// Waits, serving delivery reports, while librdkafka's local queue is full. `tag` comes back in its `Delivery`.
    public func produce(
        topic: String, partition: Int32? = nil, key: [UInt8]?, value: [UInt8]?, headers: [(String, [UInt8])] = [],
        tag: Int = 0
    ) throws {
        while true {
            let code = enqueue(topic: topic, partition: partition, key: key, value: value, headers: headers, tag: tag)
            if code == RD_KAFKA_RESP_ERR_NO_ERROR { return }
            guard code == RD_KAFKA_RESP_ERR__QUEUE_FULL else { throw KafkaError(code, nil, [("topic", topic)]) }
            rd_kafka_poll(handle, 10)
        }
    }

    private func enqueue(
        topic: String, partition: Int32?, key: [UInt8]?, value: [UInt8]?, headers: [(String, [UInt8])], tag: Int
    ) -> rd_kafka_resp_err_t {
        let list = rd_kafka_headers_new(headers.count)!
        for (name, bytes) in headers {
            bytes.withUnsafeBytes { _ = rd_kafka_header_add(list, name, -1, $0.baseAddress, $0.count) }
        }
        let code: rd_kafka_resp_err_t = topic.withCString { topicName in
            withOptionalBytes(key) { keyBytes in
                withOptionalBytes(value) { valueBytes in
                    var fields = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: 7)
                    fields[0].vtype = RD_KAFKA_VTYPE_TOPIC
                    fields[0].u.cstr = topicName
                    fields[1].vtype = RD_KAFKA_VTYPE_PARTITION
                    fields[1].u.i32 = partition ?? Int32(RD_KAFKA_PARTITION_UA)
                    fields[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                    fields[2].u.i = RD_KAFKA_MSG_F_COPY
                    fields[3].vtype = RD_KAFKA_VTYPE_VALUE
                    fields[3].u.mem.ptr = UnsafeMutableRawPointer(mutating: valueBytes?.baseAddress)
                    fields[3].u.mem.size = valueBytes?.count ?? 0
                    fields[4].vtype = RD_KAFKA_VTYPE_KEY
                    fields[4].u.mem.ptr = UnsafeMutableRawPointer(mutating: keyBytes?.baseAddress)
                    fields[4].u.mem.size = keyBytes?.count ?? 0
                    fields[5].vtype = RD_KAFKA_VTYPE_HEADERS
                    fields[5].u.headers = list
                    // The per-message opaque: the delivery report hands it back as `_private`.
                    fields[6].vtype = RD_KAFKA_VTYPE_OPAQUE
                    fields[6].u.ptr = UnsafeMutableRawPointer(bitPattern: tag)
                    guard let error = rd_kafka_produceva(handle, fields, fields.count) else {
                        return RD_KAFKA_RESP_ERR_NO_ERROR
                    }
                    defer { rd_kafka_error_destroy(error) }
                    return rd_kafka_error_code(error)
                }
            }
        }
        // On success librdkafka owns the header list; on failure it is still ours.
        if code != RD_KAFKA_RESP_ERR_NO_ERROR { rd_kafka_headers_destroy(list) }
        return code
    }

    /// Serves delivery reports without waiting.
    public func poll() { rd_kafka_poll(handle, 0) }

    /// Waits until every queued message is acknowledged or failed, for at most `timeoutMilliseconds`. Throws if
    /// any delivery failed since the last flush or the timeout passed with messages still in flight.
    public func flush(timeoutMilliseconds: Int) throws {
        let code = rd_kafka_flush(handle, Int32(timeoutMilliseconds))
        let failures = context.failures
        context.failures.removeAll()
        if let first = failures.first {
            throw KafkaError(client: "\(failures.count) message(s) were not delivered: \(first)")
        }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(
                code, "messages still unacknowledged after \(timeoutMilliseconds) ms",
                [("in_flight", "\(rd_kafka_outq_len(handle))")])
        }
    }

    /// The deliveries recorded since the last call (only with `recordsDeliveries`), in acknowledgement order.
    public func takeDeliveries() -> [Delivery] {
        defer { context.deliveries.removeAll() }
        return context.deliveries
    }

    /// Messages acknowledged by the broker so far.
    public var deliveredCount: Int { context.delivered }

    public func takeReportedErrors() -> [KafkaError] {
        defer { context.reportedErrors.removeAll() }
        return context.reportedErrors
    }
}

private func withOptionalBytes<Result>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> Result) -> Result {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}
