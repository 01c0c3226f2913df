/// Every bound Pulse Ledger enforces, in one place, each with its unit in its name and the reason beside it.
public enum Limits {
    // MARK: Messages

    /// Largest message value accepted, in bytes. Kafka's default `message.max.bytes` is about 1 MiB, and a
    /// transaction of six short fields is a few hundred bytes: anything near this is not a transaction.
    public static let messageBytesMax = 1 << 20
    /// Most characters in customer_id and product_category: the warehouse columns are VARCHAR(50).
    public static let textFieldCharactersMax = 50
    /// Most bytes of a rejected message kept in the ledger. Larger values keep their first bytes and their size:
    /// enough to diagnose, without letting one bad producer fill the disk.
    public static let rejectedRawBytesKeptMax = 64 << 10
    /// Most UTF-8 bytes of a rejection's field (the offending key, which comes from the producer), cut at a
    /// character boundary by `Rejection.init`: the record codec stores the field as text of at most this length,
    /// and dead-letter headers carry it. A cut mid-character once made a record the decoder refused (issue 11).
    public static let rejectionFieldBytesMax = 255
    /// Most UTF-8 bytes of customer_id and product_category in a record: `textFieldCharactersMax` scalars of
    /// at most 4 bytes each.
    public static let textFieldBytesMax = textFieldCharactersMax * 4
    /// The instants a transaction's timestamp (and a record's ingest time) may name, in microseconds since the
    /// Unix epoch: 0001-01-01T00:00:00Z through 9999-12-31T23:59:59.999999Z. Checked on the UTC instant, after
    /// the producer's offset is applied ("0001-01-01T00:00:00+00:01" is year 0 in UTC). The validator, the
    /// writer and the projector check this one range (DESIGN.md invariant 8): what the ledger accepts, the
    /// warehouse takes. PostgreSQL could hold more; nothing outside is a real transaction time.
    public static let timestampMicrosecondsRange: ClosedRange<Int64> = -62_135_596_800_000_000...253_402_300_799_999_999

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
    public static let recordBytesMax = rejectedRawBytesKeptMax + recordKeyBytesMax + 4096
    /// Most bytes of a Kafka key kept in a record; longer keys are truncated (the key is informational).
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
}
