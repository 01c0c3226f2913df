import Foundation

/// One row of the order index: an accepted order, its LSN and its content digest.
typealias IndexedOrder = (orderID: UUID, lsn: UInt64, contentDigest: Int64)

/// Accepted orders that are not yet (all) in the SQLite order index, and the batch of them being inserted: the
/// writer's in-memory half of the order index. It holds appended orders too; a batch is only taken right after
/// an fsync, when every order held is durable.
///
/// Why batches: the order index is a B-tree keyed by random UUIDs, so n inserts rewrite up to n of its leaves
/// (4 KiB each). Inserting per group commit rewrote nearly every leaf at every commit; a batch of
/// `Limits.orderIndexBatchOrdersMax` orders, sorted by key, rewrites each leaf about once per batch.
/// Why slices: one large batch in one transaction stalls the commit that carries it (a quarter of a second on
/// a ledger of a million orders). The sorted batch is instead spread over `Limits.orderIndexSlicesPerBatch`
/// consecutive commits, slice k holding the k-th key range: each commit pays a fraction, and each leaf is still
/// written about once per batch. `orders_lsn` moves only when the last slice is in, so a reader or recovery that
/// trusts it never misses an order; a slice inserted twice (recovery after a crash mid-batch) is harmless.
struct OrderIndexBacklog {
    /// Orders that make a batch.
    let batchOrders: Int
    /// Every order after the index's `orders_lsn`, including those of the batch being inserted.
    private var orders: [UUID: (lsn: UInt64, contentDigest: Int64)] = [:]
    /// The batch being inserted, sorted as SQLite orders the keys, and how far it got.
    private var batch: [IndexedOrder] = []
    private var batchInserted = 0
    private var batchThroughLSN: UInt64 = 0

    init(batchOrders: Int) {
        precondition(batchOrders > 0, "an order batch holds at least one order")
        self.batchOrders = batchOrders
        // Up to two batches are held (one filling while one is inserted): no rehashing on the way.
        orders.reserveCapacity(2 * batchOrders + Limits.groupCommitRecordsMax)
    }

    subscript(orderID: UUID) -> (lsn: UInt64, contentDigest: Int64)? { orders[orderID] }

    mutating func add(_ orderID: UUID, lsn: UInt64, contentDigest: Int64) {
        orders[orderID] = (lsn, contentDigest)
    }

    /// What the next commit inserts: nothing until a batch is full, then one slice per commit. `completeThrough`
    /// is set with the last slice: the LSN through which the index then holds every order.
    mutating func nextSlice(durableLSN: UInt64) -> (orders: [IndexedOrder], completeThrough: UInt64?)? {
        if batch.isEmpty {
            guard orders.count >= batchOrders else { return nil }
            batch = orders.map { ($0.key, $0.value.lsn, $0.value.contentDigest) }.sorted { LedgerIndex.keyOrder($0.orderID) < LedgerIndex.keyOrder($1.orderID) }
            batchInserted = 0
            batchThroughLSN = durableLSN
        }
        let sliceCount = (batch.count + Limits.orderIndexSlicesPerBatch - 1) / Limits.orderIndexSlicesPerBatch
        let end = min(batch.count, batchInserted + sliceCount)
        let slice = Array(batch[batchInserted..<end])
        batchInserted = end
        guard batchInserted == batch.count else { return (slice, nil) }
        for order in batch { orders.removeValue(forKey: order.orderID) }
        batch = []
        return (slice, batchThroughLSN)
    }

    /// Every order held, for a clean close: the index is then complete through the durable LSN.
    mutating func drain() -> [IndexedOrder] {
        let all = orders.map { ($0.key, $0.value.lsn, $0.value.contentDigest) }
        orders.removeAll()
        batch = []
        return all
    }
}
