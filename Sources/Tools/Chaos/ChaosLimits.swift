/// Every bound of the fault campaign, with its unit and the reason for its value.
enum ChaosLimits {
    /// The topic the campaign produces to and ingest reads, and the one ingest writes dead letters to.
    static let topic = "transactions"
    static let deadLetterTopic = "transactions.dlq"
    /// Partitions of each topic: enough that nothing the campaign produces is dropped (see `messagesMax`).
    static let partitions = 8
    /// Brokers of the development cluster: more than one, so `down B` takes some partitions' leader (and maybe the
    /// group coordinator) away while the others keep working.
    static let brokers = 3
    /// The development broker keeps at most this much per partition (librdkafka's mock cluster: 5 MiB, and 100k
    /// message sets) and drops the oldest batches beyond it. The oracle reads the topic back at the end of the run,
    /// so nothing may be dropped before then; a drop is detected (the first offset a partition holds is above 0)
    /// and fails the run, but the load is sized so that it cannot happen.
    static let brokerPartitionBytesMax = 5 << 20
    /// What one produced message costs the broker at most: in a batch of its own (a nudge, or a quiet moment),
    /// 61 bytes of batch header, about 12 of record framing and the generator's longest value (about 200 bytes).
    static let producedBatchBytesMax = 280
    /// The producer's linger: at the campaign's rates (100-400 messages per second over 8 partitions) it gathers a
    /// few messages per batch. The development broker answers a fetch with one batch per partition and finds it
    /// by a linear scan, so reading a partition of n batches back costs O(n²): one message per batch (`ledger-tool produce`'s
    /// 5 ms, without idempotence) made reading 100k messages back take over 120 s on a busy 2-core
    /// machine; ingest, which reads as the messages come, did not notice.
    static let producerLingerMilliseconds = 200
    /// The random partitioner spreads messages within a few percent of the mean; 10 % covers it.
    static let partitionFillMargin = 1.1
    /// The most messages one run produces, nudges included: about 136k, so no partition can outgrow the broker's
    /// retention (and a retried batch written twice, a few per run, stays far inside the margin).
    static let messagesMax = Int(
        Double(partitions * brokerPartitionBytesMax) / (Double(producedBatchBytesMax) * partitionFillMargin))
    /// Share of invalid messages and of repeated order_ids (a quarter of them conflicting): 4 times the original
    /// producer's mix, so the dead-letter checks see every rejection reason many times.
    static let invalidRatio = 0.08
    static let duplicateRatio = 0.04
    /// Copies of acknowledged messages written again with kcat in the middle of the fault window, as a broker
    /// writes a retried produce twice (see `LoadGenerator.writeCopies`).
    static let copiesPerRun = 20
    /// kcat producing those copies, broker faults included (a broker down at most 3 s, a few request errors).
    static let copyWriteTimeoutSeconds = 60.0
    /// A nudge: messages produced when an ingest armed with a file fault has had its partitions this long without
    /// writing because nothing else is being produced.
    static let nudgeMessages = 200
    static let nudgeAfterSeconds = 2.0
    /// How long an ingest armed with `--inject-fault` may run before the fault counts as not fired. Covers the
    /// broker waiting out a crashed member (about 15 s with the session timeout below, measured), the join delay
    /// (3 s) and a few nudges.
    static let armedFaultTimeoutSeconds = 60.0
    /// ledger-ingest's consumer session timeout in the campaign (its default is 10 s; 6 s is Kafka's smallest
    /// allowed by default, group.min.session.timeout.ms). Every crash leaves a member the broker waits out before
    /// it hands the partitions to the restarted process; a shorter wait lets more faults fit in a run. The
    /// properties checked do not depend on it.
    static let ingestSessionTimeoutMilliseconds = 6_000
    /// A just-started ingest is given this long to install its signal handlers before a SIGTERM.
    static let startupSeconds = 10.0
    /// A SIGTERM drains, fsyncs and commits: a few seconds; more means it hangs.
    static let gracefulStopTimeoutSeconds = 30.0
    /// After the last fault: time for the producer, ingest and the projector to finish their work.
    static let drainTimeoutSeconds = 300.0
    /// Answer to one dev-broker command.
    static let brokerCommandTimeoutSeconds = 10.0
    /// `pg_ctl restart -m immediate`, crash recovery included.
    static let postgresRestartTimeoutSeconds = 60
    /// Reading a whole topic back with kcat: a few seconds with the linger above; the bound only stops a hang.
    static let topicReadTimeoutSeconds = 600.0
    /// Bytes of garbage appended as a torn tail (one partial write, smaller than a frame header to a few pages).
    static let tornTailBytes = 1...6_000
    /// How long a restarted ingest may take to open its ledger (recovery of a torn tail included).
    static let ledgerOpenTimeoutSeconds = 30.0
    /// The warehouse schema the campaign projects into (dropped at the start of every run).
    static let warehouseSchema = "chaos"
    /// Each ingest archives to its own `file://` directory: segments seal at this size (not 64 MiB) and are
    /// shipped every second, so that uploads (and kill -9 in the middle of one) happen all through a run.
    static let archiveSegmentBytes = 128 << 10
    static let archiveIntervalSeconds = 1
    /// `ledger-tool retain` runs this often for each instance, keeping this many sealed segments local: most
    /// segments of a run are deleted locally and read back from the archive by everything after.
    static let retainIntervalSeconds = 5.0
    static let retainKeepSealedSegments = 1
    /// Longest the campaign waits for a restore or a rebuild it runs itself (the lost-disk fault).
    static let maintenanceTimeoutSeconds = 300.0
    /// The fraud rule the oracle applies itself: amount above 1000.00 (rule version 1), in cents.
    static let fraudThresholdCents = 100_000
}

/// The two forms of the campaign.
enum CampaignProfile: String, Sendable {
    /// Default: ≥ 100 faults, about 12 minutes on 2 cores.
    case long
    /// `--short`, run by scripts/test: every kind of fault once or more, under 3 minutes.
    case short

    /// Faults to inject (each one that took effect counts; one that could not fire is retried).
    var faults: Int { self == .long ? 100 : FaultKind.allCases.count }
    /// Messages the producer sends while faults happen.
    var messages: Int { self == .long ? 100_000 : 12_000 }
    /// Mean seconds between two scheduled faults: the fault window is faults × this.
    var meanFaultGapSeconds: Double { self == .long ? 3.0 : 2.5 }
    /// Every kind of fault at least this often (the rest is drawn by weight).
    var minimumPerKind: Int { self == .long ? 4 : 1 }
}
