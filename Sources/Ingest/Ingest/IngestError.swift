import OperatingErrors

/// ledger-ingest's own area of operating errors (the ledger's and Kafka's keep theirs).
public enum IngestDomain: ErrorDomain {}

/// An error that stops ledger-ingest: nothing past the last successful fsync has been committed to Kafka.
public typealias IngestError = OperatingError<IngestDomain>

extension OperatingError.Code where Domain == IngestDomain {
    /// Offsets of a partition were deleted (or never delivered) before they were ingested, and gaps are not
    /// allowed: restart with --allow-gaps to record them as a gap and go on.
    public static var offsetsLost: Self { Self("offsets_lost") }
}
