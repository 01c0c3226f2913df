import CRDKafka
import KafkaClient
import Logging
import OperatingErrors

/// librdkafka's mock cluster: a Kafka-protocol broker on 127.0.0.1 TCP ports, in this process's memory.
/// For development and tests only: it keeps about 5 MiB / 100k message sets per partition and drops older data.
/// Owns the hosting `rd_kafka_t` and the cluster; both destroyed in `deinit` (cluster first, as librdkafka requires).
/// `@unchecked Sendable`: librdkafka serialises every mock call onto the cluster's own thread.
public final class MockCluster: @unchecked Sendable {
    private let host: OpaquePointer
    private let cluster: OpaquePointer
    private let context: KafkaCallbackContext
    /// The bootstrap address clients connect to, e.g. "127.0.0.1:39291".
    public let bootstrapServers: String

    public init(brokers: Int, logger: Logger) throws {
        // The mock brokers' sockets take this handle's settings. With Nagle's algorithm on (librdkafka's default)
        // a response written while the previous one is unacknowledged waits for the client's delayed ACK: each
        // second request pipelined on a connection (a producer's requests to two partitions) took ~44 ms instead
        // of ~0.1. Kafka's brokers set TCP_NODELAY on their sockets; so does the development broker now.
        let conf = try KafkaConfiguration.make(["socket.nagle.disable": "true"])
        context = KafkaCallbackContext(logger: logger)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        installLogCallback(conf)
        host = try KafkaConfiguration.createHandle(RD_KAFKA_PRODUCER, conf: conf)
        guard let cluster = rd_kafka_mock_cluster_new(host, Int32(brokers)) else {
            rd_kafka_destroy(host)
            throw KafkaError(client: "cannot create the mock cluster")
        }
        self.cluster = cluster
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(host)
    }

    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws {
        let code = rd_kafka_mock_topic_create(cluster, name, Int32(partitions), Int32(replicationFactor))
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, nil, [("topic", name)]) }
    }

    /// Makes the next `count` requests of API `apiKey` (e.g. 1 Fetch, 8 OffsetCommit) fail with error `name`.
    public func pushRequestErrors(apiKey: Int16, errorName: String, count: Int) throws {
        guard let code = Self.errorCode(named: errorName) else {
            throw KafkaError(client: "unknown Kafka error name", [("name", errorName)])
        }
        let errors = [rd_kafka_resp_err_t](repeating: code, count: count)
        rd_kafka_mock_push_request_errors_array(cluster, apiKey, count, errors)
    }

    /// Takes broker `id` (1-based) down or brings it back: its connections are closed and it refuses new ones.
    public func setBroker(_ id: Int32, up: Bool) throws {
        let code = up ? rd_kafka_mock_broker_set_up(cluster, id) : rd_kafka_mock_broker_set_down(cluster, id)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, nil, [("broker", "\(id)")]) }
    }

    /// Moves the leadership of `topic`'s `partition` to broker `id` (1-based), as a controller would after a failover.
    public func setPartitionLeader(topic: String, partition: Int32, broker id: Int32) throws {
        let code = rd_kafka_mock_partition_set_leader(cluster, topic, partition, id)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code, nil, [("topic", topic), ("partition", "\(partition)"), ("broker", "\(id)")])
        }
    }

    /// Adds `milliseconds` of round-trip time to every request of broker `id`.
    public func setBrokerRoundTrip(_ id: Int32, milliseconds: Int) throws {
        let code = rd_kafka_mock_broker_set_rtt(cluster, id, Int32(milliseconds))
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, nil, [("broker", "\(id)")]) }
    }

    public func clearRequestErrors(apiKey: Int16) { rd_kafka_mock_clear_request_errors(cluster, apiKey) }

    /// The librdkafka error code whose name (`rd_kafka_err2name`) is `name`, e.g. "NOT_LEADER_FOR_PARTITION".
    static func errorCode(named name: String) -> rd_kafka_resp_err_t? {
        var count = 0
        var descriptions: UnsafePointer<rd_kafka_err_desc>?
        rd_kafka_get_err_descs(&descriptions, &count)
        guard let descriptions else { return nil }
        for index in 0..<count where descriptions[index].name.map({ String(cString: $0) }) == name {
            return descriptions[index].code
        }
        return nil
    }
}
