/// An operating error of the ledger: a disk, file or index fault, or data that fails its checks.
///
/// A struct with a stable `code` and free-form context, so that new codes never break callers that switch on
/// the ones they know. Bugs are not errors: they are `precondition` failures.
public struct LedgerError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A system call on a ledger file failed (open, read, write, fsync, rename, truncate, …).
        public static let io = Code("io")
        /// An fsync failed. Fatal: the state of the page cache is unknown, so nothing after the last good fsync
        /// may be published, and the process must stop (PostgreSQL's "fsyncgate" lesson).
        public static let fsyncFailed = Code("fsync_failed")
        /// A checksum or structural check failed on data that is not a torn tail: stop and investigate.
        public static let corruption = Code("corruption")
        /// A segment was written by a newer or unknown format version.
        public static let unsupportedVersion = Code("unsupported_version")
        /// The ledger directory belongs to another ledger, or segments do not chain.
        public static let mismatch = Code("mismatch")
        /// The SQLite index failed or disagrees with the segments.
        public static let index = Code("index")
        /// Another process holds the ledger's writer lock.
        public static let locked = Code("locked")
        /// A record is too large for a frame, or a field too long for its encoding.
        public static let recordTooLarge = Code("record_too_large")
        /// A record holds a value out of `RecordBounds`: one the codec could not read back or the warehouse
        /// could not hold. Refused before it is written (the writer stays usable); it means a bug upstream.
        public static let valueOutOfBounds = Code("value_out_of_bounds")
        /// The writer already failed; it accepts nothing more until reopened.
        public static let writerFailed = Code("writer_failed")
        /// An argument from the operator makes no sense (e.g. an LSN beyond the ledger).
        public static let invalidArgument = Code("invalid_argument")
    }

    public let code: Code
    public let message: String
    /// Where it happened: path, segment, byte offset, LSN, expected and found values, errno.
    public let context: [(String, String)]

    public init(_ code: Code, _ message: String, _ context: [(String, String)] = []) {
        self.code = code
        self.message = message
        self.context = context
    }

    public func context(_ key: String) -> String? { context.first { $0.0 == key }?.1 }

    public var description: String {
        let details = context.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        return details.isEmpty ? "\(code): \(message)" : "\(code): \(message) (\(details))"
    }
}
