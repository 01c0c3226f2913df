/// Every bound of the fault campaign, with its unit and the reason for its value.
enum ChaosLimits {
    /// Partitions of the topic. The development broker keeps about 5 MiB / 100k message sets per partition; at
    /// about 230 bytes per message, 8 partitions hold 150k messages with room to spare, so nothing the campaign
    /// produces is deleted before it is ingested.
    static let partitions = 8
    /// Brokers of the development cluster: more than one, so `down B` takes some partitions' leader (and maybe the
    /// group coordinator) away while the others keep working.
    static let brokers = 3
    /// The most messages one run produces, nudges included (the broker's retention bound above).
    static let messagesMax = 150_000
    /// Share of invalid messages and of repeated order_ids (a quarter of them conflicting): 4 times the original
    /// producer's mix, so the dead-letter checks see every rejection reason many times.
    static let invalidRatio = 0.08
    static let duplicateRatio = 0.04
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
    /// Reading the dead-letter topic from the beginning to its end.
    static let deadLetterReadTimeoutSeconds = 120.0
    /// Bytes of garbage appended as a torn tail (one partial write, smaller than a frame header to a few pages).
    static let tornTailBytes = 1...6_000
    /// How long a restarted ingest may take to open its ledger (recovery of a torn tail included).
    static let ledgerOpenTimeoutSeconds = 30.0
    /// The warehouse schema the campaign projects into (dropped at the start of every run).
    static let warehouseSchema = "chaos"
    /// The fraud rule the oracle applies itself: amount above 1000.00 (rule version 1), in cents.
    static let fraudThresholdCents = 100_000
}

/// The two forms of the campaign.
struct CampaignProfile: Sendable {
    var name: String
    /// Faults to inject (each one that took effect counts; one that could not fire is retried).
    var faults: Int
    /// Messages the producer sends while faults happen.
    var messages: Int
    /// Mean seconds between two scheduled faults: the fault window is faults × this.
    var meanFaultGapSeconds: Double
    /// Every kind of fault at least this often (the rest is drawn by weight).
    var minimumPerKind: Int

    /// Default: ≥ 100 faults, about 6-8 minutes on 2 cores.
    static let long = CampaignProfile(name: "long", faults: 100, messages: 100_000, meanFaultGapSeconds: 3.0, minimumPerKind: 4)
    /// `--short`, run by scripts/test: every kind of fault once or more, under 3 minutes.
    static let short = CampaignProfile(name: "short", faults: 12, messages: 12_000, meanFaultGapSeconds: 2.5, minimumPerKind: 1)
}
