import OperatingErrors

/// The warehouse side's area of operating errors: PostgreSQL (this module's codes) and the projector and the
/// warehouse tools (codes the Projector module adds), one domain so that one `isTransient` judges them all.
public enum WarehouseDomain: ErrorDomain {}

/// An operating error of PostgreSQL, the projector or the warehouse tools, in the project's one error shape.
public typealias WarehouseError = OperatingError<WarehouseDomain>

extension OperatingError.Code where Domain == WarehouseDomain {
    /// No connection to PostgreSQL could be made, or it was lost. Retried with backoff.
    public static var connectionFailed: Self { Self("connection_failed") }
    /// PostgreSQL refused a statement; `sqlstate` in the context says why.
    public static var postgres: Self { Self("postgres") }
}

extension OperatingError where Domain == WarehouseDomain {
    /// The SQLSTATE PostgreSQL reported, if this error came from a statement.
    public var sqlState: String? { context("sqlstate") }

    /// SQLSTATE classes where the statement may succeed later: 08 connection exception, 53 insufficient
    /// resources (disk full, too many connections), 57P0x server shutting down or starting, 57014 cancelled,
    /// 40001/40P01 serialization failure and deadlock, 55P03 lock not available, 58 system error (I/O).
    public static func isTransientSQLState(_ state: String) -> Bool {
        state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57P") || state.hasPrefix("58")
            || ["57014", "40001", "40P01", "55P03"].contains(state)
    }
}
