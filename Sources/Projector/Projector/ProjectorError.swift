import Ledger
import OperatingErrors
import PostgresClient

/// An operating error of the projector or the warehouse tools: PostgreSQL unreachable or refusing a statement,
/// a record that cannot be projected, a schema the code does not know, a digest that does not match. The
/// warehouse side's one domain (`WarehouseError`), with the projector's codes added here.
public typealias ProjectorError = WarehouseError

extension OperatingError.Code where Domain == WarehouseDomain {
    /// A ledger record cannot become a warehouse row (value out of the warehouse's range, NUL in text, …).
    public static var unprojectableRecord: Self { Self("unprojectable_record") }
    /// The warehouse schema was migrated by newer code than this binary knows.
    public static var schemaTooNew: Self { Self("schema_too_new") }
    /// A migration already applied differs from the one this binary carries (migrations are forward-only).
    public static var migrationChanged: Self { Self("migration_changed") }
    /// The checkpoint in the warehouse is not the one this projector last wrote (another writer, or a
    /// rebuild swapped the schema). The projector re-reads it and carries on from there.
    public static var checkpointMoved: Self { Self("checkpoint_moved") }
    /// The ledger directory has no index yet (ledger-ingest has not started). Retried.
    public static var ledgerUnavailable: Self { Self("ledger_unavailable") }
    /// Another projector holds this ledger's lock for this warehouse schema. Retried: this one takes over
    /// when the other stops (a standby).
    public static var ledgerBusy: Self { Self("ledger_busy") }
    /// Reading the ledger failed (corruption, I/O): the `LedgerError` is in the context.
    public static var ledger: Self { Self("ledger") }
    /// `--verify` found a day whose warehouse digest differs from the ledger's.
    public static var verificationFailed: Self { Self("verification_failed") }
    /// An argument from the operator makes no sense.
    public static var invalidArgument: Self { Self("invalid_argument") }
    /// A batch was rolled back because the batch before it (same ledger) failed; the earlier error says why.
    public static var batchCancelled: Self { Self("batch_cancelled") }
    /// The rebuild was interrupted before the swap; the live warehouse is untouched.
    public static var interrupted: Self { Self("interrupted") }
}

extension OperatingError where Domain == WarehouseDomain {
    /// Whether waiting and trying again can help: the connection dropped, the server is starting or shutting
    /// down, a lock or serialization conflict, resources exhausted, or the ledger is not there yet.
    public var isTransient: Bool {
        switch code {
        case .connectionFailed, .ledgerUnavailable, .ledgerBusy, .checkpointMoved, .batchCancelled: return true
        case .postgres: return sqlState.map(Self.isTransientSQLState) ?? false
        default: return false
        }
    }

    /// Wraps a ledger read failure, keeping its code and context.
    init(ledger error: LedgerError, directory: String) {
        self.init(
            .ledger, error.message,
            [("ledger.path", directory), ("ledger.error_code", error.code.name)] + error.context)
    }
}
