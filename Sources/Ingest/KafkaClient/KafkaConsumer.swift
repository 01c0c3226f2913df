import CRDKafka
import Logging
import MessageSchema
import OperatingErrors

/// One message as librdkafka delivered it. The key and value point into librdkafka's buffer and are valid only
/// inside the closure given to `KafkaConsumer.consumeBatch`: copy what must outlive it.
public struct KafkaMessageView {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var timestampMilliseconds: Int64?
    public var key: UnsafeRawBufferPointer?
    /// nil for a Kafka null value (a tombstone).
    public var value: UnsafeRawBufferPointer?
    /// Set when this is not a message but a per-partition event or error (EOF, out of range, …).
    public var error: KafkaError?
    /// The message headers (a value may be null), read only when `consumeMessages(includeHeaders: true)` asked.
    public var headers: [(name: String, value: [UInt8]?)] = []
}

/// What to do when the group coordinator hands over or takes back partitions. Both run synchronously on the
/// consuming thread, inside `consumeBatch`.
public struct RebalanceHandlers {
    /// Returns where each assigned partition starts: an offset, or `kafkaOffsetBeginning`.
    public var assigned: ([TopicPartition]) throws -> [TopicPartition: Int64]
    /// Called before partitions are released: finish, make durable and commit everything consumed from them.
    public var revoking: ([TopicPartition]) throws -> Void

    public init(
        assigned: @escaping ([TopicPartition]) throws -> [TopicPartition: Int64],
        revoking: @escaping ([TopicPartition]) throws -> Void
    ) {
        self.assigned = assigned
        self.revoking = revoking
    }
}

/// A librdkafka high-level consumer. Owns its `rd_kafka_t` (closed and destroyed in `deinit`); not thread-safe:
/// one thread consumes, and its blocking calls must stay off Swift's cooperative pool.
public final class KafkaConsumer {
    private let handle: OpaquePointer
    private let queue: OpaquePointer
    private let context: ConsumerContext
    private var closed = false

    final class ConsumerContext: KafkaCallbackContext {
        var handlers: RebalanceHandlers?
        /// An error a rebalance handler threw inside the C callback, rethrown by `consumeBatch`.
        var handlerError: (any Error)?
        var assignment: Set<TopicPartition> = []
    }

    /// Creates the consumer. `properties` are librdkafka's (bootstrap.servers, group.id, -X overrides); automatic
    /// commit and offset store are forced off: offsets are committed only after the ledger fsync.
    public init(properties: [String: String], logger: Logger, handlers: RebalanceHandlers) throws {
        var settings = properties
        settings["enable.auto.commit"] = "false"
        settings["enable.auto.offset.store"] = "false"
        settings["auto.offset.reset"] = settings["auto.offset.reset"] ?? "error"
        settings["enable.partition.eof"] = "false"
        let conf = try KafkaConfiguration.make(settings)
        context = ConsumerContext(logger: logger)
        context.handlers = handlers
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        installLogCallback(conf)
        rd_kafka_conf_set_error_cb(conf) { _, code, reason, opaque in
            guard let opaque else { return }
            let context = Unmanaged<KafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
            context.reportedErrors.append(KafkaError(rd_kafka_resp_err_t(code), reason.map { String(cString: $0) }))
        }
        rd_kafka_conf_set_rebalance_cb(conf) { handle, code, list, opaque in
            guard let handle, let list, let opaque else { return }
            Unmanaged<ConsumerContext>.fromOpaque(opaque).takeUnretainedValue().rebalance(handle, code, list)
        }
        handle = try KafkaConfiguration.createHandle(RD_KAFKA_CONSUMER, conf: conf)
        rd_kafka_poll_set_consumer(handle)
        queue = rd_kafka_queue_get_consumer(handle)
    }

    deinit {
        // The handlers belong to the owner, which may already be gone (it owns us): leaving the group from here
        // must not call back into it. Anything uncommitted is re-delivered, which the ledger skips.
        context.handlers = nil
        if !closed { rd_kafka_consumer_close(handle) }
        rd_kafka_queue_destroy(queue)
        rd_kafka_destroy(handle)
    }

    public func subscribe(_ topics: [String]) throws {
        let list = makePartitionList(topics.map { ($0, Int32(RD_KAFKA_PARTITION_UA), 0) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = rd_kafka_subscribe(handle, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code, nil, [("topics", topics.joined(separator: ","))])
        }
    }

    /// Hands `body` every message already queued, up to `maxMessages`; when none is queued, first waits up to
    /// `timeoutMilliseconds` for one. It never waits for a batch to fill: whatever arrived while the caller was
    /// busy (appending, fsyncing) is the batch, so a batch costs no latency beyond the work before it (group commit
    /// without a timer). Rebalance callbacks run inside this call. Returns how many messages (and events) were
    /// delivered.
    @discardableResult
    public func consumeBatch(
        maxMessages: Int, timeoutMilliseconds: Int, includeHeaders: Bool = false,
        _ body: (KafkaMessageView) throws -> Void
    ) throws -> Int {
        try consumeMessages(
            maxMessages: maxMessages, timeoutMilliseconds: timeoutMilliseconds, includeHeaders: includeHeaders
        ) { messages in
            for message in messages { try body(message) }
        }
    }

    /// `consumeBatch`, handing the whole batch to `body` at once (in the order librdkafka delivered it).
    @discardableResult
    public func consumeMessages(
        maxMessages: Int, timeoutMilliseconds: Int, includeHeaders: Bool = false,
        _ body: ([KafkaMessageView]) throws -> Void
    ) throws -> Int {
        precondition(maxMessages > 0, "a batch holds at least one message")
        var messages = [UnsafeMutablePointer<rd_kafka_message_t>?](repeating: nil, count: maxMessages)
        let count = messages.withUnsafeMutableBufferPointer { buffer in
            let queued = rd_kafka_consume_batch_queue(queue, 0, buffer.baseAddress, maxMessages)
            guard queued == 0, let first = rd_kafka_consume_queue(queue, Int32(timeoutMilliseconds)) else {
                return queued
            }
            buffer[0] = first
            let more =
                maxMessages > 1 ? rd_kafka_consume_batch_queue(queue, 0, buffer.baseAddress! + 1, maxMessages - 1) : 0
            return more < 0 ? more : 1 + more
        }
        defer {
            for index in 0..<maxMessages { if let message = messages[index] { rd_kafka_message_destroy(message) } }
        }
        if let error = context.handlerError {
            context.handlerError = nil
            throw error
        }
        guard count >= 0 else {
            throw KafkaError(rd_kafka_last_error(), nil, [("call", "rd_kafka_consume_batch_queue")])
        }
        let views = messages[0..<count].map { pointer in
            var message = view(of: pointer!)
            if includeHeaders { message.headers = headers(of: pointer!) }
            return message
        }
        try body(views)
        return count
    }

    private func headers(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> [(name: String, value: [UInt8]?)] {
        var list: OpaquePointer?
        guard rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        var result: [(name: String, value: [UInt8]?)] = []
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            result.append(
                (
                    name.map { String(cString: $0) } ?? "",
                    value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
                ))
            index += 1
        }
        return result
    }

    /// The view of one message. librdkafka's accessors (timestamp, headers) need the pointer it handed out, not
    /// a copy of the struct: it finds its own bookkeeping around that address.
    private func view(of pointer: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaMessageView {
        let message = pointer.pointee
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(pointer, &timestampType)
        return KafkaMessageView(
            topic: message.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "",
            partition: message.partition, offset: message.offset,
            timestampMilliseconds: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp,
            key: message.key.map { UnsafeRawBufferPointer(start: $0, count: message.key_len) },
            value: message.payload.map { UnsafeRawBufferPointer(start: $0, count: message.len) },
            error: message.err == RD_KAFKA_RESP_ERR_NO_ERROR
                ? nil
                : KafkaError(
                    message.err, nil, [("partition", "\(message.partition)"), ("offset", "\(message.offset)")]))
    }

    /// Commits "next offset to read" for each partition and waits at most `timeoutMilliseconds` for the group
    /// coordinator's answer. (librdkafka's synchronous `rd_kafka_commit` waits without bound while no
    /// coordinator is reachable, which kept a stopping ingest from ever exiting with the broker gone.)
    public func commit(_ nextOffsets: [TopicPartition: Int64], timeoutMilliseconds: Int) throws {
        guard !nextOffsets.isEmpty else { return }
        let list = makePartitionList(
            nextOffsets.sorted { $0.key < $1.key }.map { ($0.key.topic, $0.key.partition, $0.value) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        guard let results = rd_kafka_queue_new(handle) else { throw KafkaError(client: "rd_kafka_queue_new failed") }
        // librdkafka keeps its own reference to the queue: an answer arriving after the timeout is dropped safely.
        defer { rd_kafka_queue_destroy(results) }
        let code = rd_kafka_commit_queue(handle, list, results, nil, nil)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code, nil, [("call", "rd_kafka_commit_queue")])
        }
        guard let event = rd_kafka_queue_poll(results, Int32(timeoutMilliseconds)) else {
            throw KafkaError(
                RD_KAFKA_RESP_ERR__TIMED_OUT, "the group coordinator did not answer the offset commit",
                [("timeout_ms", String(timeoutMilliseconds))])
        }
        defer { rd_kafka_event_destroy(event) }
        let outcome = rd_kafka_event_error(event)
        guard outcome == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(outcome, nil, [("call", "rd_kafka_commit_queue")])
        }
    }

    /// The group's committed offsets for `partitions` (`kafkaOffsetInvalid` where none).
    public func committedOffsets(_ partitions: [TopicPartition], timeoutMilliseconds: Int = 10_000) throws
        -> [TopicPartition: Int64]
    {
        let list = makePartitionList(partitions.map { ($0.topic, $0.partition, kafkaOffsetInvalid) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = rd_kafka_committed(handle, list, Int32(timeoutMilliseconds))
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, nil, [("call", "rd_kafka_committed")]) }
        return Dictionary(
            uniqueKeysWithValues: KafkaClient.partitions(of: list).map {
                (TopicPartition(topic: $0.topic, partition: $0.partition), $0.offset)
            })
    }

    /// The low and high watermarks librdkafka last saw in fetch responses (no broker round trip).
    public func cachedWatermarks(_ partition: TopicPartition) -> (low: Int64, high: Int64)? {
        var low: Int64 = -1
        var high: Int64 = -1
        guard
            rd_kafka_get_watermark_offsets(handle, partition.topic, partition.partition, &low, &high)
                == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0
        else { return nil }
        return (low, high)
    }

    /// The low and high watermarks, asked of the partition leader.
    public func queryWatermarks(_ partition: TopicPartition, timeoutMilliseconds: Int = 10_000) throws -> (
        low: Int64, high: Int64
    ) {
        var low: Int64 = -1
        var high: Int64 = -1
        let code = rd_kafka_query_watermark_offsets(
            handle, partition.topic, partition.partition, &low, &high, Int32(timeoutMilliseconds))
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, nil, [("partition", "\(partition)")]) }
        return (low, high)
    }

    /// How many partitions `topic` has, from the cluster's metadata.
    public func partitionCount(_ topic: String, timeoutMilliseconds: Int = 10_000) throws -> Int {
        try topicPartitionCount(handle, topic, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Replaces the assignment with the same partitions starting at `offsets` (others from librdkafka's stored
    /// position would be unknown, so every assigned partition must be given). Used to move past a partition in
    /// the error state that an out-of-range offset leaves it in, which a seek does not clear.
    public func reassign(_ offsets: [TopicPartition: Int64]) throws {
        precondition(Set(offsets.keys) == context.assignment, "reassign names exactly the assigned partitions")
        let list = makePartitionList(
            offsets.sorted { $0.key < $1.key }.map { ($0.key.topic, $0.key.partition, $0.value) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = rd_kafka_assign(handle, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, nil, [("call", "rd_kafka_assign")]) }
    }

    /// Partitions currently assigned to this consumer.
    public var assignment: Set<TopicPartition> { context.assignment }

    /// Errors librdkafka reported (error_cb) since the last call.
    public func takeReportedErrors() -> [KafkaError] {
        defer { context.reportedErrors.removeAll() }
        return context.reportedErrors
    }

    /// Leaves the group: the revoke handler runs (finish, fsync, commit) and partitions are released.
    public func close() throws {
        guard !closed else { return }
        closed = true
        let code = rd_kafka_consumer_close(handle)
        if let error = context.handlerError {
            context.handlerError = nil
            throw error
        }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code, nil, [("call", "rd_kafka_consumer_close")])
        }
    }
}

extension KafkaConsumer.ConsumerContext {
    /// The rebalance callback: ask the handler where assigned partitions start, or let it finish revoked ones.
    /// A handler error is kept for `consumeBatch` to rethrow; on revoke the partitions are released regardless,
    /// since the process is about to stop without committing.
    func rebalance(
        _ handle: OpaquePointer, _ code: rd_kafka_resp_err_t,
        _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
    ) {
        let given = KafkaClient.partitions(of: list).map { TopicPartition(topic: $0.topic, partition: $0.partition) }
        if code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
            do {
                let starts = try handlers?.assigned(given) ?? [:]
                for index in 0..<Int(list.pointee.cnt) {
                    let partition = given[index]
                    list.pointee.elems[index].offset = starts[partition] ?? kafkaOffsetBeginning
                }
                assignment.formUnion(given)
                rd_kafka_assign(handle, list)
            } catch {
                handlerError = error
                rd_kafka_assign(handle, nil)
            }
        } else {
            do { try handlers?.revoking(given) } catch { handlerError = error }
            assignment.subtract(given)
            rd_kafka_assign(handle, nil)
        }
    }
}
