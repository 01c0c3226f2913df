/// A Kafka (or import) partition: the unit of offsets and watermarks.
public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    /// Hashes the partition and the topic's length, not the topic's bytes: a process sees a handful of topics,
    /// and ingest looks partitions up several times per message (hashing the topic was ~3% of its time). Equal
    /// values still hash equally; `==` compares the whole topic.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(partition)
        hasher.combine(topic.utf8.count)
    }

    public var description: String { "\(topic)[\(partition)]" }
}
