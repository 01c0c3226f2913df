import Foundation
import PostgresClient

/// Where the warehouse says a ledger stands: its `projector_checkpoints` row, the one place that reads it.
enum Checkpoints {
    /// The last LSN of `ledgerID` whose record is in the warehouse; nil when the warehouse has none of it.
    static func read(_ ledgerID: UUID, in schema: WarehouseSchema, on connection: PostgresConnection) throws -> UInt64?
    {
        guard
            let text = try connection.query(
                "SELECT last_lsn FROM \(schema.checkpoints) WHERE ledger_id = $1", [ledgerID.uuidString]
            ).scalar
        else {
            return nil
        }
        guard let lsn = UInt64(text) else {
            throw ProjectorError(
                .postgres, "projector_checkpoints.last_lsn is not an LSN",
                [("ledger_id", ledgerID.uuidString), ("found", text)])
        }
        return lsn
    }
}
