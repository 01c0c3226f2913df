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
        try Checkpoints.read(ledgerID, in: schema, on: connection) ?? 0
    }
}
