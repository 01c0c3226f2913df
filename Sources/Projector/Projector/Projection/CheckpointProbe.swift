import Foundation
import OperatingErrors
import PostgresClient

/// Reads how far the warehouse has projected a ledger (its `projector_checkpoints` row), over one connection
/// kept open: for tools that watch projection progress closely, such as the end-to-end latency benchmark.
public final class CheckpointProbe {
    private let connection: PostgresConnection
    private let schema: WarehouseSchema

    public init(postgresURL: String, schema: WarehouseSchema, applicationName: String) throws {
        connection = try PostgresConnection(url: postgresURL, applicationName: applicationName)
        self.schema = schema
    }

    /// The last LSN of `ledgerID` whose record is in the warehouse (0 when nothing is projected yet).
    public func projectedLSN(of ledgerID: UUID) throws -> UInt64 {
        let rows = try connection.query("SELECT last_lsn FROM \(schema.checkpoints) WHERE ledger_id = $1", [ledgerID.uuidString])
        guard rows.count > 0, let text = rows.values[0][0] else { return 0 }
        guard let lsn = UInt64(text) else {
            throw ProjectorError(.postgres, "projector_checkpoints.last_lsn is not an LSN", [("ledger_id", ledgerID.uuidString), ("found", text)])
        }
        return lsn
    }
}
