import Ledger

/// The bounds of the ingest loop, each with its unit and the reason for its value.
public enum IngestLimits {
    // MARK: Batches and the prefetch queue

    /// Most messages taken from librdkafka per batch, i.e. per fsync. Large enough to amortise the fsync over
    /// thousands of messages under load; equal to the ledger's group-commit bound.
    public static let batchMessagesMax = Limits.groupCommitRecordsMax
    /// Longest an idle consumer waits for a first message before it looks again at stop requests, offset commits
    /// and lag. A batch never waits to fill: it is whatever was queued when the previous fsync ended.
    public static let batchWaitMilliseconds = Limits.groupCommitIntervalMilliseconds
    /// librdkafka's prefetch queue, in KiB (for the high-level consumer one queue for all partitions): bounds
    /// memory while the ledger catches up. Large on purpose: librdkafka 2.0.2 stops fetching when the queue is
    /// full and does not wake when it drains, but at its next timer, about 500 ms later (a later release added
    /// `fetch.queue.backoff.ms` for this). With 16 MiB, catching up on a backlog was ~0.3 s of work then ~0.5 s
    /// of waiting, over and over (130k msgs/s). With 64 MiB, a backlog of 300k messages (~62 MiB) filled it in
    /// one run of three (a stall in the middle: 0.55–0.6× kcat instead of 0.8×). 256 MiB holds ~1.2M messages of
    /// this system's size; a longer backlog pays one stall per 256 MiB (~3 s of work), and memory during
    /// catch-up is bounded by it. Steady ingest keeps the queue near empty.
    public static let fetchQueueKilobytesMax = 262_144
    /// A batch of fewer messages than this says the prefetch queue is drained (a backlog fills every batch to
    /// `batchMessagesMax`): the moment `FetchMemoryReturn` may give the queue's memory back.
    public static let drainedBatchMessagesMax = batchMessagesMax / 8
    /// Messages consumed since the last trim before memory is trimmed again (~50 MiB of this system's messages):
    /// below it there is little to give back.
    public static let memoryTrimAfterMessages = 262_144
    /// Shortest time between two trims, in seconds: a trim walks every malloc arena (milliseconds), and a steady
    /// stream passes the message threshold every few seconds.
    public static let memoryTrimIntervalSeconds = 10.0
    /// librdkafka's prefetch threshold in messages (`queued.min.messages`), for the same reason: above the
    /// kilobyte bound for messages of this system's size, so that bound is the one that applies.
    public static let fetchQueueMessagesMax = 1_000_000

    // MARK: Dead letters

    /// Longest a dead-letter message may stay unacknowledged before the batch fails (and nothing is committed).
    public static let deadLetterDeliveryMilliseconds = 30_000
    /// How long `flush` waits for dead-letter acknowledgements before the batch is declared failed.
    public static let deadLetterFlushMilliseconds = 35_000
    /// Longest ingest waits at start for the dead-letter topic's metadata (`IngestLoop.prepareDeadLetters`).
    public static let deadLetterLookupMilliseconds = 5_000
    /// Largest message value sent whole to the dead-letter topic, in bytes: below the producer's and brokers'
    /// default `message.max.bytes` (1 MB) with room for headers. Larger values go truncated.
    public static let deadLetterValueBytesMax = 900_000

    // MARK: Offsets and stopping

    /// Shortest time between two offset commits, in milliseconds. Commits are advisory (the ledger decides where
    /// to resume), so they need not follow every fsync; a librdkafka consumer group also cannot rebalance while
    /// commits are continuously in flight.
    public static let offsetCommitIntervalMilliseconds = 250
    /// Longest an offset commit waits for the group coordinator. A commit that times out stays queued for the
    /// next attempt; at shutdown the offsets are left uncommitted, which is safe (the ledger's watermarks, not
    /// Kafka's commits, decide where consumption resumes).
    public static let offsetCommitWaitMilliseconds = 5_000
    /// Longest a stopping ingest waits, once the ledger is durable and closed, for its last offset commit and
    /// for leaving the group (each bounded by librdkafka only loosely when no coordinator answers), in seconds.
    /// Under Kubernetes' default 30 s termination grace period.
    public static let stopGraceSeconds = 20
    /// Longest the assignment handler waits for the group's committed offsets (they are advisory).
    public static let committedOffsetsWaitMilliseconds = 5_000

    // MARK: Disk

    /// Seconds between two samples of the ledger's file system's free space (`DiskSpace`).
    public static let diskSpaceSampleSeconds: UInt64 = 5
    /// Seconds between two archive runs with `--archive-to`: a sealed segment reaches the archive within about
    /// this long (plus its upload).
    public static let archiveIntervalSeconds = 30
    /// Default of `--archive-tail-seconds`: the open segment's durable bytes are shipped this often, so at most
    /// about this long of acknowledged data (plus one upload) lives only on the local disk.
    public static let archiveTailSecondsDefault = 60
    /// Seconds between two archive runs that read every archived object back and compare its SHA-256 (the first
    /// run after start is one). The runs between check each object's presence and size from one listing: reading
    /// the whole archive back every 30 s would cost its size in downloads each time.
    public static let archiveReadBackIntervalSeconds: Double = 6 * 3600
}
