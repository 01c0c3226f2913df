import Ledger

/// An operating error of the projector or the warehouse tools: PostgreSQL unreachable or refusing a statement,
/// a record that cannot be projected, a schema the code does not know, a digest that does not match.
///
/// A struct with a stable `code` and free-form context (ledger id, LSN, SQL state, expected vs found), like
/// `LedgerError`, so new codes never break callers. Bugs are not errors: they are `precondition` failures.
public struct ProjectorError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// No connection to PostgreSQL could be made, or it was lost. Retried with backoff.
        public static let connectionFailed = Code("connection_failed")
        /// PostgreSQL refused a statement; `sqlstate` in the context says why.
        public static let postgres = Code("postgres")
        /// A ledger record cannot become a warehouse row (value out of the warehouse's range, NUL in text, …).
        public static let unprojectableRecord = Code("unprojectable_record")
        /// The warehouse schema was migrated by newer code than this binary knows.
        public static let schemaTooNew = Code("schema_too_new")
        /// A migration already applied differs from the one this binary carries (migrations are forward-only).
        public static let migrationChanged = Code("migration_changed")
        /// The checkpoint in the warehouse is not the one this projector last wrote (another writer, or a
        /// rebuild swapped the schema). The projector re-reads it and carries on from there.
        public static let checkpointMoved = Code("checkpoint_moved")
        /// The ledger directory has no index yet (ledger-ingest has not started). Retried.
        public static let ledgerUnavailable = Code("ledger_unavailable")
        /// Another projector holds this ledger's lock for this warehouse schema. Retried: this one takes over
        /// when the other stops (a standby).
        public static let ledgerBusy = Code("ledger_busy")
        /// Reading the ledger failed (corruption, I/O): the `LedgerError` is in the context.
        public static let ledger = Code("ledger")
        /// `--verify` found a day whose warehouse digest differs from the ledger's.
        public static let verificationFailed = Code("verification_failed")
        /// An argument from the operator makes no sense.
        public static let invalidArgument = Code("invalid_argument")
        /// A batch was rolled back because the batch before it (same ledger) failed; the earlier error says why.
        public static let batchCancelled = Code("batch_cancelled")
        /// The rebuild was interrupted before the swap; the live warehouse is untouched.
        public static let interrupted = Code("interrupted")
    }

    public let code: Code
    public let message: String
    /// Where it happened: ledger id, LSN, SQL state, statement, expected and found values. Never a password.
    public let context: [(String, String)]

    public init(_ code: Code, _ message: String, _ context: [(String, String)] = []) {
        self.code = code
        self.message = message
        self.context = context
    }

    public func context(_ key: String) -> String? { context.first { $0.0 == key }?.1 }

    /// The SQLSTATE PostgreSQL reported, if this error came from a statement.
    public var sqlState: String? { context("sqlstate") }

    /// Whether waiting and trying again can help: the connection dropped, the server is starting or shutting
    /// down, a lock or serialization conflict, resources exhausted, or the ledger is not there yet.
    public var isTransient: Bool {
        switch code {
        case .connectionFailed, .ledgerUnavailable, .ledgerBusy, .checkpointMoved, .batchCancelled: return true
        case .postgres: return sqlState.map(Self.isTransientSQLState) ?? false
        default: return false
        }
    }

    /// SQLSTATE classes where the statement may succeed later: 08 connection exception, 53 insufficient
    /// resources (disk full, too many connections), 57P0x server shutting down or starting, 57014 cancelled,
    /// 40001/40P01 serialization failure and deadlock, 55P03 lock not available, 58 system error (I/O).
    static func isTransientSQLState(_ state: String) -> Bool {
        state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57P") || state.hasPrefix("58")
            || ["57014", "40001", "40P01", "55P03"].contains(state)
    }

    public var description: String {
        let details = context.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        return details.isEmpty ? "\(code): \(message)" : "\(code): \(message) (\(details))"
    }
}

extension ProjectorError {
    /// Wraps a ledger read failure, keeping its code and context.
    init(ledger error: LedgerError, directory: String) {
        self.init(.ledger, error.message, [("ledger.path", directory), ("ledger.error_code", error.code.name)] + error.context)
    }
}
