/// Every bound the projector enforces, in one place, each with its unit in its name and the reason beside it.
public enum ProjectorLimits {
    // MARK: Batches

    /// Rows of the warehouse carry a batch id naming the block of this many LSNs that holds them: block `k`
    /// covers LSNs `k * batchLSNBlockSize + 1 ... (k + 1) * batchLSNBlockSize`. A pure function of the LSN, so
    /// a replay, a restart at any point and a rebuild all give every row the same batch id. Changing it changes
    /// every batch id: it is part of the warehouse's contract, not a tuning knob.
    public static let batchLSNBlockSize: UInt64 = 4096
    /// Most ledger records in one PostgreSQL transaction (the default of `--transaction-records`). Larger
    /// transactions amortise the commit and the checkpoint update; 32 768 rows are ~8 MiB of COPY data, so memory
    /// stays flat and a rolled-back transaction loses little work.
    public static let transactionRecordsDefault = 32_768
    /// The bounds of `--transaction-records`.
    public static let transactionRecordsRange = 1...262_144

    /// Connections that load batches at once (each also a thread of this process and a backend process of
    /// PostgreSQL). Two keep both cores of a small machine busy: while one batch is copied, the next is already
    /// being copied on the other connection; each commits only after its predecessor of the same ledger did,
    /// so checkpoints still move in order. Exactly two, not more: with two batches in flight a cross-ledger key
    /// wait and an in-process predecessor wait can never form a cycle (see LoadPipeline).
    public static let loadConnections = 2

    // MARK: Following the ledger

    /// How long the projector sleeps when every ledger is fully projected before looking again, and the longest
    /// it waits for a batch in flight before it looks again for new records (to load them on the other
    /// connection). Under load the projector is caught up after nearly every batch, so this wait is paid by
    /// almost every record: at 100 ms it was most of the produce → warehouse latency (p50 221 ms, p99 349 ms at
    /// 50k msgs/s); at 10 ms that is p50 66 ms, p99 114 ms, for a hundred reads a second of one SQLite row
    /// (microseconds each).
    public static let followPollIntervalMillisecondsDefault = 10
    /// First wait after PostgreSQL (or the ledger) became unavailable; doubled after each failure.
    public static let retryBackoffMillisecondsInitial = 100
    /// Longest wait between two attempts: bounds how long after PostgreSQL returns the projector notices.
    public static let retryBackoffMillisecondsMax = 5_000
    /// How often partitions ahead of need are (re)created while following.
    public static let partitionMaintenanceIntervalSeconds = 3_600
    /// How often an idle projector compares its ledgers' positions with the warehouse's checkpoints. It writes
    /// nothing while idle, so without this it would notice a rebuild swapped in meanwhile only when the next
    /// record arrived, and its metrics would show its old position until then.
    public static let idleCheckpointCheckIntervalSeconds = 5

    // MARK: Partitions

    /// Daily partitions exist from today up to this many days ahead before any row needs them.
    public static let partitionDaysAhead = 7
    /// A row dated further in the past than this gets no partition of its own: it goes to the DEFAULT partition
    /// (nothing is ever refused). Ten years of daily partitions is 3 650 tables; beyond that a stray timestamp
    /// would create one table per row.
    public static let partitionDaysBehindMax = 3_660
    /// A row dated further ahead than this goes to the DEFAULT partition too (a producer with a wrong clock).
    public static let partitionDaysAheadMax = 31

    // MARK: Values

    // The bounds of values (text lengths, timestamps) are the ledger's: `Limits` and `RecordBounds`, one set
    // for the validator, the writer and the projector (DESIGN.md invariant 8).
    /// The longest schema name accepted for `--schema`, in bytes. PostgreSQL identifiers have at most 63 bytes;
    /// the rebuild derives `<schema>__rebuild` and `<schema>__old_<unix seconds>` from it.
    public static let schemaNameBytesMax = 40
    /// Warehouse retention: dropping a day's partition waits at most this long for the lock on `transactions`
    /// (readers hold it while they scan), then is tried again at the next upkeep.
    public static let partitionDropLockTimeoutMilliseconds = 2_000
    /// The most days `--retention-days` may keep: 100 years (the partition window reaches 10 years back).
    public static let retentionDaysMax = 36_500
}
