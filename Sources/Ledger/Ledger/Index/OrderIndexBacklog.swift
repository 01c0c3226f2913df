import Foundation

/// One row of the order index: an accepted order, its LSN and its content digest.
typealias IndexedOrder = (orderID: UUID, lsn: UInt64, contentDigest: ContentDigest)

/// Accepted orders that are not yet (all) in the SQLite order index, and the batch of them being inserted: the
/// writer's in-memory half of the order index. It holds appended orders too; a batch is only taken right after
/// an fsync, when every order held is durable.
///
/// Why batches: the order index is a B-tree keyed by random UUIDs, so n inserts rewrite up to n of its leaves
/// (4 KiB each). Inserting per group commit rewrote nearly every leaf at every commit; a batch of
/// `Limits.orderIndexBatchOrdersMax` orders, inserted in key order, rewrites each leaf about once per batch.
/// Why slices: one large batch in one transaction stalls the commit that carries it (a quarter of a second on
/// a ledger of a million orders). The batch is instead spread over `Limits.orderIndexSlicesPerBatch`
/// consecutive commits, slice k holding the k-th key range (`keyRanges`): each commit pays a fraction, and each
/// leaf is still written about once per batch. `orders_lsn` moves only when the last slice is in, so a reader
/// or recovery that trusts it never misses an order; a slice inserted twice (recovery after a crash mid-batch)
/// is harmless.
struct OrderIndexBacklog: ~Copyable {
    /// Orders that make a batch.
    let batchOrders: Int
    /// Every order after the index's `orders_lsn`, except those of the batch's ranges already inserted.
    private var orders: OrderTable
    /// The key ranges of the batch being inserted that are not yet in, in key order.
    private var batchRanges: ArraySlice<[IndexedOrder]> = []
    private var batchThroughLSN: UInt64 = 0
    /// The slice `nextSlice` returned whose publish has not been seen to commit; its orders are still held.
    private var sliceInFlight: [IndexedOrder]?

    init(batchOrders: Int) {
        precondition(batchOrders > 0, "an order batch holds at least one order")
        self.batchOrders = batchOrders
        // Sized for a batch and a commit's orders: 2^19 slots, so 262,144 orders before it doubles, about what a
        // backlog holds while one batch is inserted and the next fills.
        orders = OrderTable(capacityOrders: batchOrders + Limits.groupCommitRecordsMax)
    }

    subscript(key: OrderKey) -> (lsn: UInt64, contentDigest: ContentDigest)? { orders[key] }

    mutating func add(_ key: OrderKey, lsn: UInt64, contentDigest: ContentDigest) {
        orders.insert(key, lsn: lsn, contentDigest: contentDigest)
    }

    /// See `OrderTable.prefetch`.
    func prefetch(_ key: OrderKey) -> UInt64 { orders.prefetch(key) }

    /// What the next commit inserts: nothing until a batch is full, then one key range per commit (unsorted:
    /// `LedgerIndex.publish` sorts it). `completeThrough` is set with the last range: the LSN through which the
    /// index then holds every order. The slice's orders stay here, findable, until `sliceInserted` says the publish
    /// that carries them has committed (it may run on another thread, `IndexPublisher`); a failed publish ends the
    /// writer. One slice at a time: the previous one must be inserted first.
    mutating func nextSlice(durableLSN: UInt64) -> (orders: [IndexedOrder], completeThrough: UInt64?)? {
        precondition(sliceInFlight == nil, "the previous slice is inserted before the next is taken")
        if batchRanges.isEmpty {
            guard orders.count >= batchOrders else { return nil }
            let batch = orders.entries()
            batchRanges = Self.keyRanges(batch, count: Limits.orderIndexSlicesPerBatch)[...]
            batchThroughLSN = durableLSN
        }
        let slice = batchRanges.removeFirst()
        sliceInFlight = slice
        return (slice, batchRanges.isEmpty ? batchThroughLSN : nil)
    }

    /// The publish carrying the slice `nextSlice` last returned has committed: its orders are in the index and
    /// leave the backlog. Nothing when there is no slice in flight.
    mutating func sliceInserted() {
        guard let slice = sliceInFlight else { return }
        removeAll(slice)
        sliceInFlight = nil
    }

    /// Removes the orders of an inserted slice. The keys are made first (their hashes again: the batch kept only
    /// the rows), so each removal can bring the slot of one a few places ahead into the cache meanwhile.
    private mutating func removeAll(_ slice: [IndexedOrder]) {
        let keys = slice.map { OrderKey($0.orderID) }
        var sink: UInt64 = 0
        for (position, key) in keys.enumerated() {
            if position + Self.removalPrefetchDistance < keys.count {
                sink ^= orders.prefetch(keys[position + Self.removalPrefetchDistance])
            }
            orders.remove(key)
        }
        prefetchSink ^= sink
    }

    /// How many removals ahead `removeAll` brings a slot into the cache: about the misses a core keeps in flight.
    private static let removalPrefetchDistance = 8
    /// What the prefetches read, kept so that the compiler cannot drop the reads; never used otherwise.
    private var prefetchSink: UInt64 = 0

    /// Splits `batch` into `count` key ranges of about equal size, in key order, each in no particular order.
    /// Why not sort the batch: sorting 131,072 orders stalled the commit that took the batch by tens of
    /// milliseconds. The range bounds are quantiles of a sample, so skewed keys (time-ordered UUIDs) split evenly
    /// too; each range is sorted when its commit inserts it.
    static func keyRanges(_ batch: [IndexedOrder], count: Int) -> [[IndexedOrder]] {
        let step = max(1, batch.count / (count * sampleOrdersPerRange))
        let sample = stride(from: 0, to: batch.count, by: step).map { LedgerIndex.keyOrder(batch[$0].orderID) }.sorted(
            by: <)
        let bounds = (1..<count).map { sample[$0 * sample.count / count] }
        var ranges = (0..<count).map { _ in
            var range: [IndexedOrder] = []
            range.reserveCapacity(batch.count / count + batch.count / (4 * count))
            return range
        }
        for order in batch {
            let key = LedgerIndex.keyOrder(order.orderID)
            var low = 0
            var high = bounds.count
            while low < high {
                let middle = (low + high) / 2
                if bounds[middle] <= key { low = middle + 1 } else { high = middle }
            }
            ranges[low].append(order)
        }
        return ranges
    }

    /// Keys sampled per range to place the range bounds: with 256, a range's size is off by about 6 % (one
    /// standard deviation) from an even split; sorting the sample (8,192 keys for 32 ranges) takes under a
    /// millisecond.
    private static let sampleOrdersPerRange = 256

    /// Every order held, for a clean close: the index is then complete through the durable LSN.
    mutating func drain() -> [IndexedOrder] {
        let all = orders.entries()
        orders.removeAll()
        batchRanges = []
        sliceInFlight = nil
        return all
    }
}
