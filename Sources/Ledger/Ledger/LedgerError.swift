import OperatingErrors

/// The ledger's area of operating errors: a disk, file or index fault, or data that fails its checks.
public enum LedgerDomain: ErrorDomain {}

/// An operating error of the ledger, in the project's one error shape (`OperatingError`: code + context).
public typealias LedgerError = OperatingError<LedgerDomain>

// The codes of each domain are listed in its own module, in the same shape as `ProjectorError`'s: one shared
// error type (`OperatingError`), with each module naming only the failures it can have.
extension OperatingError.Code where Domain == LedgerDomain {
    /// A system call on a ledger file failed (open, read, write, fsync, rename, truncate, …).
    public static var io: Self { Self("io") }
    /// An fsync failed. Fatal: the state of the page cache is unknown, so nothing after the last good fsync
    /// may be published, and the process must stop (PostgreSQL's "fsyncgate" lesson).
    public static var fsyncFailed: Self { Self("fsync_failed") }
    /// A checksum or structural check failed on data that is not a torn tail: stop and investigate.
    public static var corruption: Self { Self("corruption") }
    /// A segment was written by a newer or unknown format version.
    public static var unsupportedVersion: Self { Self("unsupported_version") }
    /// The ledger directory belongs to another ledger, or segments do not chain.
    public static var mismatch: Self { Self("mismatch") }
    /// The SQLite index failed or disagrees with the segments.
    public static var index: Self { Self("index") }
    /// The directory holds no ledger yet: no index, or an index its writer is still creating (it names no
    /// ledger id until the first open completes). A reader waits this out; it is not damage.
    public static var notCreated: Self { Self("not_created") }
    /// Another process holds the ledger's writer lock.
    public static var locked: Self { Self("locked") }
    /// A record is too large for a frame, or a field too long for its encoding.
    public static var recordTooLarge: Self { Self("record_too_large") }
    /// A record holds a value out of `RecordBounds`: one the codec could not read back or the warehouse
    /// could not hold. Refused before it is written (the writer stays usable); it means a bug upstream.
    public static var valueOutOfBounds: Self { Self("value_out_of_bounds") }
    /// What the caller owed before a frame is written (`LedgerWriter.beforeFrameWrite`: ledger-ingest's flush of
    /// the dead letters) failed: the frame, already finished, is not written, and the writer stops.
    public static var beforeFrameWriteFailed: Self { Self("before_frame_write_failed") }
    /// The writer already failed; it accepts nothing more until reopened.
    public static var writerFailed: Self { Self("writer_failed") }
    /// An argument from the operator makes no sense (e.g. an LSN beyond the ledger).
    public static var invalidArgument: Self { Self("invalid_argument") }
}
