/// A map from partitions to values, for what ingest reads or writes at every message (the next offset of a
/// partition, its watermark): one array per topic, indexed by partition number. `Dictionary` hashed the key with
/// SipHash at every access, and five accesses a message were ~8 % of the ingest thread on the mix
/// (`scripts/profile-ingest perf`, 2026-12-07).
///
/// Partition numbers come from the cluster's metadata (or an import's options), not from message content, but
/// nothing here trusts them: partitions outside `0..<arrayPartitionsMax`, and topics after the first
/// `arrayTopicsMax`, are kept in a dictionary, so no key can make an array large or a topic search long.
public struct PartitionMap<Value>: Sequence {
    /// Partitions kept in a topic's array: enough for any topic seen in practice (Kafka advises a few thousand
    /// partitions per broker); at most this many slots per topic.
    public static var arrayPartitionsMax: Int32 { 4_096 }
    /// Topics with an array of their own (ingest reads one topic; imports add a few).
    public static var arrayTopicsMax: Int { 8 }

    // Internal, and the API inlinable: the map is generic, and across modules an unspecialized generic looks up its
    // type metadata at each call (a quarter of the ingest thread, `scripts/profile-ingest perf`).
    @usableFromInline var topics: [String] = []
    @usableFromInline var values: [[Value?]] = []
    @usableFromInline var others: [TopicPartition: Value] = [:]
    @usableFromInline var valueCount = 0

    /// Keys with a value.
    @inlinable public var count: Int { valueCount }

    @inlinable public init() {}

    @inlinable public init(_ dictionary: [TopicPartition: Value]) {
        for (key, value) in dictionary { self[key] = value }
    }

    @inlinable public var isEmpty: Bool { valueCount == 0 }

    @inlinable public subscript(key: TopicPartition) -> Value? {
        get {
            guard let topic = arrayTopic(key) else { return others[key] }
            let partition = Int(key.partition)
            return partition < values[topic].count ? values[topic][partition] : nil
        }
        set { _ = updateValue(newValue, forKey: key) }
    }

    /// Sets (or with nil removes) `key`'s value; returns the value it replaced.
    @discardableResult
    @inlinable public mutating func updateValue(_ value: Value?, forKey key: TopicPartition) -> Value? {
        guard let topic = arrayTopic(key, creating: value != nil) else {
            let old = value.map { others.updateValue($0, forKey: key) } ?? others.removeValue(forKey: key)
            valueCount += (value == nil ? 0 : 1) - (old == nil ? 0 : 1)
            return old
        }
        let partition = Int(key.partition)
        if partition >= values[topic].count {
            guard value != nil else { return nil }
            values[topic].append(contentsOf: repeatElement(nil, count: partition + 1 - values[topic].count))
        }
        let old = values[topic][partition]
        values[topic][partition] = value
        valueCount += (value == nil ? 0 : 1) - (old == nil ? 0 : 1)
        return old
    }

    /// Every value replaced by `other`'s where it has one.
    @inlinable public mutating func merge(_ other: PartitionMap) {
        for (key, value) in other { self[key] = value }
    }

    /// Removes every value; the arrays keep their size, for the next batch's offsets.
    @inlinable public mutating func removeAll() {
        for topic in values.indices {
            for partition in values[topic].indices { values[topic][partition] = nil }
        }
        others.removeAll()
        valueCount = 0
    }

    /// The keys with a value, topics in the order first seen, then partition order; then the rest unordered.
    @inlinable public var keys: [TopicPartition] { map(\.key) }

    @inlinable public func makeIterator() -> IndexingIterator<[(key: TopicPartition, value: Value)]> {
        var all: [(key: TopicPartition, value: Value)] = []
        all.reserveCapacity(count)
        for (topic, partitions) in zip(topics, values) {
            for (partition, value) in partitions.enumerated() {
                if let value { all.append((TopicPartition(topic: topic, partition: Int32(partition)), value)) }
            }
        }
        all.append(contentsOf: others.map { ($0.key, $0.value) })
        return all.makeIterator()
    }

    /// The index of the array holding `key`: nil when its partition is out of the arrays' range or its topic has
    /// none (the dictionary holds it).
    @usableFromInline func arrayTopic(_ key: TopicPartition) -> Int? {
        guard Self.hasArrayPartition(key) else { return nil }
        return topics.firstIndex(of: key.topic)
    }

    /// Whether `key`'s partition number is one the arrays hold (0..<`arrayPartitionsMax`).
    @usableFromInline static func hasArrayPartition(_ key: TopicPartition) -> Bool {
        key.partition >= 0 && key.partition < arrayPartitionsMax
    }

    /// The topic's array, added when `creating` and there is room for another topic; nil when the key belongs to
    /// the dictionary.
    @usableFromInline mutating func arrayTopic(_ key: TopicPartition, creating: Bool) -> Int? {
        if let topic = arrayTopic(key) { return topic }
        // A topic gets an array only while there is room; topics are never dropped, so a key whose topic had none
        // when it was set stays in the dictionary.
        guard creating, Self.hasArrayPartition(key), topics.count < Self.arrayTopicsMax else { return nil }
        topics.append(key.topic)
        values.append([])
        return topics.count - 1
    }
}

extension PartitionMap: Sendable where Value: Sendable {}
