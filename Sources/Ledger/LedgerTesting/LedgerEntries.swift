import Ledger

/// Every durable record of the ledger in `directory`, read through a fresh reader.
public func ledgerEntries(_ directory: String) throws -> [LedgerEntry] {
    let cursor = try LedgerReader(directory: directory).cursor()
    var entries: [LedgerEntry] = []
    while true {
        let batch = try cursor.next(maxRecords: 10_000)
        if batch.isEmpty { return entries }
        entries += batch
    }
}
