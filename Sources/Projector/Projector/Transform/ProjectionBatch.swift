import Foundation
import Ledger
import MessageSchema
import OperatingErrors

/// What one PostgreSQL transaction writes: the rows of a contiguous LSN range of one ledger, and the new
/// checkpoint (`lastLSN`). Every record in the range is accounted for: a row, a rejection, a gap, a quarantined
/// record, or a duplicate (which the ledger keeps and the warehouse does not).
package struct ProjectionBatch: Sendable {
    let ledgerID: UUID
    /// The LSN after the previous checkpoint (the first record of the range).
    let firstLSN: UInt64
    /// The checkpoint this batch commits. `lastLSN == firstLSN - 1` for an empty batch.
    package var lastLSN: UInt64
    package var transactions: [TransactionRow] = []
    package var rejections: [RejectionRow] = []
    package var gaps: [GapRow] = []
    package var quarantined: [QuarantineRow] = []
    /// Records the ledger classified as duplicates: not rows, unless the warehouse holds their order in
    /// another version (`WarehouseLoader`, several ledgers).
    package var duplicates: [TransactionRow] = []
    /// When the last record of the range was ingested (for the lag in seconds).
    var lastIngestMicroseconds: Int64?

    var recordCount: UInt64 { lastLSN + 1 - firstLSN }
    var isEmpty: Bool { lastLSN < firstLSN }
}

/// Why one record cannot become a warehouse row.
struct UnprojectableRecord: Error, Sendable {
    var reason: String
    var detail: String
}
