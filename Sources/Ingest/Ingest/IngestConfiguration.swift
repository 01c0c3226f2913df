import Ledger
import MessageSchema

/// Everything ledger-ingest needs to run, from flags and environment (see `LedgerIngest`'s options).
public struct IngestConfiguration: Sendable {
    public var brokers: String
    public var topic: String
    public var deadLetterTopic: String
    public var group: String
    public var ledgerDirectory: String
    /// librdkafka properties from `-X key=value` (SASL, TLS, tuning); they override the defaults below.
    public var clientProperties: [String: String]
    /// Continue past offsets deleted by retention, recording the gap in the ledger, instead of stopping.
    public var allowGaps: Bool
    /// What a message member outside the schema does: reject the message (default) or be ignored.
    public var unknownFields: UnknownFieldPolicy
    /// Where sealed segments are shipped while ingest runs (`--archive-to`); nil: no archive.
    public var archive: (any ArchiveTarget)?
    /// Segment size: `Limits.segmentBytesTarget`; tests make it small (hidden `--segment-bytes`).
    public var segmentBytesTarget = Limits.segmentBytesTarget
    /// Seconds between archive runs: `IngestLimits.archiveIntervalSeconds`; tests make it short.
    public var archiveIntervalSeconds = IngestLimits.archiveIntervalSeconds
    /// Seconds between shipments of the open segment's durable tail (`--archive-tail-seconds`); 0: never.
    public var archiveTailSeconds = IngestLimits.archiveTailSecondsDefault
    public var batchMessagesMax: Int
    public var batchWaitMilliseconds: Int
    /// The ledger's file layer: POSIX, or (the fault campaign's hidden --inject-fault) one that injects faults.
    public var fileSystem: any FileSystem

    public init(
        brokers: String, topic: String = "transactions", deadLetterTopic: String = "transactions.dlq",
        group: String = "ledger-ingest",
        ledgerDirectory: String, clientProperties: [String: String] = [:], allowGaps: Bool = false,
        unknownFields: UnknownFieldPolicy = .reject,
        batchMessagesMax: Int = IngestLimits.batchMessagesMax,
        batchWaitMilliseconds: Int = IngestLimits.batchWaitMilliseconds, fileSystem: any FileSystem = PosixFileSystem()
    ) {
        self.brokers = brokers
        self.topic = topic
        self.deadLetterTopic = deadLetterTopic
        self.group = group
        self.ledgerDirectory = ledgerDirectory
        self.clientProperties = clientProperties
        self.allowGaps = allowGaps
        self.unknownFields = unknownFields
        self.batchMessagesMax = batchMessagesMax
        self.batchWaitMilliseconds = batchWaitMilliseconds
        self.fileSystem = fileSystem
    }

    /// The consumer's librdkafka properties: ours, then the operator's `-X` overrides.
    var consumerProperties: [String: String] {
        var properties = [
            "bootstrap.servers": brokers, "group.id": group, "client.id": "ledger-ingest",
            "session.timeout.ms": "10000", "max.poll.interval.ms": "300000",
            "fetch.wait.max.ms": "\(batchWaitMilliseconds)",
            "queued.max.messages.kbytes": "\(IngestLimits.fetchQueueKilobytesMax)",
            "queued.min.messages": "\(IngestLimits.fetchQueueMessagesMax)",
        ]
        properties.merge(clientProperties) { $1 }
        return properties
    }

    /// The dead-letter producer's: acknowledged by all in-sync replicas, idempotent (no duplicates on retry).
    var deadLetterProperties: [String: String] {
        var properties = [
            "bootstrap.servers": brokers, "client.id": "ledger-ingest-dlq", "acks": "all", "enable.idempotence": "true",
            "linger.ms": "5", "message.timeout.ms": "\(IngestLimits.deadLetterDeliveryMilliseconds)",
        ]
        properties.merge(clientProperties.filter { !Self.consumerOnly.contains($0.key) }) { $1 }
        return properties
    }

    private static let consumerOnly: Set<String> = [
        "group.id", "auto.offset.reset", "enable.auto.commit", "session.timeout.ms",
        "max.poll.interval.ms", "fetch.wait.max.ms", "queued.max.messages.kbytes", "group.instance.id",
    ]
}
