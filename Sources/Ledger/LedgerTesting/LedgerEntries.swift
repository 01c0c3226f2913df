import Foundation
import Ledger

/// Every durable record of the ledger in `directory`, read through a fresh reader.
/// `environment`: the AWS variables, when segments were evicted to an `s3://` archive.
public func ledgerEntries(_ directory: String, environment: [String: String]? = nil) throws -> [LedgerEntry] {
    let cursor = try LedgerReader(
        directory: directory, environment: environment ?? ProcessInfo.processInfo.environment
    ).cursor()
    var entries: [LedgerEntry] = []
    while true {
        let batch = try cursor.next(maxRecords: 10_000)
        if batch.isEmpty { return entries }
        entries += batch
    }
}
