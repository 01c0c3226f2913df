import CRDKafka
import OperatingErrors

/// Converts librdkafka's partition list into Swift values. The list stays owned by the caller.
func partitions(of list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [(TopicPartitionOffset)] {
    (0..<Int(list.pointee.cnt)).map { index in
        let element = list.pointee.elems[index]
        return TopicPartitionOffset(
            topic: String(cString: element.topic), partition: element.partition, offset: element.offset,
            error: element.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(element.err))
    }
}

/// Builds a partition list; the caller destroys it with `rd_kafka_topic_partition_list_destroy`.
func makePartitionList(_ entries: [(topic: String, partition: Int32, offset: Int64)]) -> UnsafeMutablePointer<
    rd_kafka_topic_partition_list_t
> {
    let list = rd_kafka_topic_partition_list_new(Int32(max(entries.count, 1)))!
    for entry in entries {
        rd_kafka_topic_partition_list_add(list, entry.topic, entry.partition).pointee.offset = entry.offset
    }
    return list
}

/// How many partitions `topic` has, asked of the cluster through `handle` (a consumer's or a producer's).
func topicPartitionCount(_ handle: OpaquePointer, _ topic: String, timeoutMilliseconds: Int) throws -> Int {
    let topicHandle = rd_kafka_topic_new(handle, topic, nil)
    defer { rd_kafka_topic_destroy(topicHandle) }
    var metadata: UnsafePointer<rd_kafka_metadata>?
    let code = rd_kafka_metadata(handle, 0, topicHandle, &metadata, Int32(timeoutMilliseconds))
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(code, nil, [("topic", topic)]) }
    defer { rd_kafka_metadata_destroy(metadata) }
    guard metadata.pointee.topic_cnt == 1 else {
        throw KafkaError(client: "no metadata for the topic", [("topic", topic)])
    }
    return Int(metadata.pointee.topics[0].partition_cnt)
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
package func text(of buffer: [CChar]) -> String {
    String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
