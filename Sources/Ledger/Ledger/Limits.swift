import MessageSchema

/// Every bound of the ledger library, in one place, each with its unit in its name and the reason beside it. The
/// bounds of a message's values are `MessageLimits` (MessageSchema).
public enum Limits {
    // MARK: Records

    /// Most bytes of a rejected message kept in the ledger. Larger values keep their first bytes and their size:
    /// enough to diagnose, without letting one bad producer fill the disk.
    public static let rejectedRawBytesKeptMax = 64 << 10

    // MARK: Write-ahead log

    /// A segment is sealed and a new one started once it holds at least this many bytes. 64 MiB keeps recovery
    /// (a scan of the open segment) well under a second and the number of files small.
    public static let segmentBytesTarget = 64 << 20
    /// Most uncompressed record bytes in one frame. Larger frames compress better; 1 MiB keeps a frame's
    /// decompression buffer small and a torn frame cheap to lose (it was never acknowledged).
    public static let frameRawBytesMax = 1 << 20
    /// Most records in one frame (a frame's record count is a 32-bit field; this bound is far below it).
    public static let frameRecordsMax = 16_384
    /// Most bytes one encoded record may take: a rejected message keeps at most `rejectedRawBytesKeptMax` raw
    /// bytes, plus coordinates (topic, key) and fields. Keys are bounded by `recordKeyBytesMax`.
    public static let recordBytesMax =
        rejectedRawBytesKeptMax + recordKeyBytesMax + recordHeadersBytesMax + 2 * recordHeadersMax + 4096
    /// Most bytes of a Kafka key kept in a record; longer keys are truncated (the key is informational).
    /// Kafka headers a record keeps (`SourceCoordinates.headers`), their names and values together, and the
    /// longest name: trace context and producer metadata are small; a message whose headers are larger keeps those
    /// that fit, in order.
    public static let recordHeadersMax = 64
    public static let recordHeadersBytesMax = 8 << 10
    public static let recordHeaderNameBytesMax = 255
    /// The members outside the schema an accepted message keeps with `--unknown-fields keep` (their JSON text):
    /// a message with more is rejected as `unknown_field`, since keeping only part of them would change its content.
    public static let extraMembersBytesMax = MessageLimits.extraMembersBytesMax
    public static let recordKeyBytesMax = 1024
    /// Most bytes in a topic name (Kafka's own limit is 249).
    public static let topicBytesMax = 255

    // MARK: Group commit

    /// Records buffered before the writer compresses them into a frame and writes it (without fsync).
    public static let groupCommitRecordsMax = 8192
    /// Longest a caller should hold appended records before committing, in milliseconds: the bound on the
    /// latency that group commit adds to a message.
    public static let groupCommitIntervalMilliseconds = 20

    // MARK: Order index

    /// Accepted orders the writer holds in memory (about 60 bytes each) before it inserts them into the SQLite
    /// order index as one batch sorted by key (see `OrderIndexBacklog`). The index is a B-tree keyed by random
    /// UUIDs: inserting per group commit (8,192 orders) rewrote nearly every leaf at every commit; a larger
    /// batch rewrites each leaf about once. Larger is cheaper per order but holds more in memory and leaves
    /// more for recovery to re-insert after a crash (at most two batches: one waiting, one being inserted).
    public static let orderIndexBatchOrdersMax = 131_072
    /// Commits over which one order batch is inserted, a key range each: no commit stalls for a whole batch.
    /// Since ingest commits as soon as its queue is drained (many small commits), 32 beat 16 in an A/B on the
    /// same machine: durable append of 2M records 318k vs 297k records/s, ingest 414–455k vs 378–380k msgs/s,
    /// and commits over 10 ms at 194k msgs/s down from ~220 to ~60 in 10 s.
    public static let orderIndexSlicesPerBatch = 32
    /// Orders the writer's in-memory order filter (`OrderFilter`, 10 bits an order) is sized for when it opens,
    /// at least: 32M orders, 40 MiB, allocated and zeroed at once. Memory then stays flat while a ledger fills
    /// (about 3 minutes at ingest's maximum rate, or a 5-minute run at 100k msgs/s); past it, the filter adds a
    /// layer twice as large as the last. A ledger that already holds orders gets twice its count.
    public static let orderFilterOrdersInitial = 32 << 20
    /// Evicted segments (`EvictedSegmentCache`) a reader keeps fetched from the archive at once: up to 2 × 64 MiB
    /// of temporary disk. Readers move forward, so the one being read and the one before are enough.
    public static let evictedSegmentCacheFilesMax = 2
}
