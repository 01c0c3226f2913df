import OperatingErrors

/// ledger-ingest's own area of operating errors (the ledger's and Kafka's keep theirs).
public enum IngestDomain: ErrorDomain {}

/// An error that stops ledger-ingest: nothing past the last successful fsync has been committed to Kafka.
public typealias IngestError = OperatingError<IngestDomain>

extension OperatingError.Code where Domain == IngestDomain {
    /// Offsets of a partition were deleted (or never delivered) before they were ingested, and gaps are not
    /// allowed: restart with --allow-gaps to record them as a gap and go on.
    public static var offsetsLost: Self { Self("offsets_lost") }
    /// A ledger restored from an archive was given only some of the topic's partitions: another ingest instance of
    /// the group holds the others and would start them at the group's offsets, which count what the lost ledger
    /// held, and skip it. Stop the other instances until this one logs `ingest.restore_marker_removed`.
    public static var restoreNeedsWholeGroup: Self { Self("restore_needs_whole_group") }
}
