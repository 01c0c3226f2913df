import Foundation

/// An order_id with its hash for `OrderTable`, made where the order is validated (`ValidatedMessage`): on
/// ledger-ingest's validation workers, so that the ingest thread hashes nothing.
///
/// The hash is Swift's `Hasher` (SipHash-1-3 with a seed drawn at random for each process): order_ids come from
/// producers, and with a hash an outsider can predict they could pick ids that all fall on one run of the table's
/// slots, turning each insert into a walk over all of them. Nothing but this process's tables sees the hash.
struct OrderKey: Sendable {
    let orderID: UUID
    let hash: Int

    init(_ orderID: UUID) {
        self.orderID = orderID
        let (high, low) = orderID.words
        var hasher = Hasher()
        hasher.combine(high)
        hasher.combine(low)
        hash = hasher.finalize()
    }
}

/// The accepted orders of `OrderIndexBacklog`: order_id → (LSN, content digest), in one flat array of slots
/// (open addressing, linear probing, deletion by backward shift, at most half full).
///
/// Why not `Dictionary`: the backlog holds up to two order batches (~270,000 orders), so every insert and removal
/// is a cache miss, and `Dictionary` keeps keys and values in separate arrays (two misses) and hashed each UUID on
/// the ingest thread: its inserts and removals were 10.8 % of that thread's time on the mix (`scripts/profile-ingest
/// perf`, 2026-12-07). Here one 48-byte slot holds the whole entry (one miss), the hash comes with the key, and the
/// slot an order will take is known before its append, so `prefetch` overlaps the misses of a batch's inserts.
///
/// Noncopyable: it owns its memory, freed in `deinit`.
struct OrderTable: ~Copyable {
    private struct Slot {
        var high: UInt64
        var low: UInt64
        /// 0 marks an empty slot (LSNs start at 1).
        var lsn: UInt64
        var contentDigest: ContentDigest
        /// `OrderKey.hash`: where the entry's probe starts, kept so that moving an entry never hashes again.
        var hash: Int
    }

    /// Slots in a new table: grows by doubling once half full.
    static let slotsInitial = 1 << 16

    private var slots: UnsafeMutableBufferPointer<Slot>
    private var mask: Int
    private(set) var count = 0

    init(capacityOrders: Int) {
        var slotCount = Self.slotsInitial
        while slotCount < 2 * capacityOrders { slotCount *= 2 }
        slots = Self.emptySlots(slotCount)
        mask = slotCount - 1
    }

    deinit { slots.deallocate() }

    /// The order's entry, if held.
    subscript(key: OrderKey) -> (lsn: UInt64, contentDigest: ContentDigest)? {
        let (index, found) = probe(key)
        return found ? (slots[index].lsn, slots[index].contentDigest) : nil
    }

    /// Holds `key`'s order at `lsn` (replacing an entry of the same order_id).
    mutating func insert(_ key: OrderKey, lsn: UInt64, contentDigest: ContentDigest) {
        precondition(lsn > 0, "LSNs start at 1")
        if 2 * (count + 1) > slots.count { grow() }
        let (index, found) = probe(key)
        if found {
            slots[index].lsn = lsn
            slots[index].contentDigest = contentDigest
        } else {
            let (high, low) = key.orderID.words
            slots[index] = Slot(high: high, low: low, lsn: lsn, contentDigest: contentDigest, hash: key.hash)
            count += 1
        }
    }

    /// Drops `key`'s order if held. Backward shift: the entries after it in its run move up into the hole when
    /// their home slot allows, so no lookup ever stops early at a hole that was once full.
    mutating func remove(_ key: OrderKey) {
        var (hole, found) = probe(key)
        guard found else { return }
        var next = (hole + 1) & mask
        while slots[next].lsn != 0 {
            let home = slots[next].hash & mask
            // The entry may fill the hole when its home is not within (hole, next]: walking from its home it
            // would meet the hole before reaching its own slot.
            if (next - home) & mask >= (next - hole) & mask {
                slots[hole] = slots[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        slots[hole] = Self.empty
        count -= 1
    }

    /// Where `key`'s order is (`found`), or else the empty slot that ends its run, where it would go: the one walk
    /// from the key's home slot that lookups, inserts and removals share.
    private func probe(_ key: OrderKey) -> (index: Int, found: Bool) {
        let (high, low) = key.orderID.words
        var index = key.hash & mask
        while slots[index].lsn != 0 {
            if slots[index].high == high && slots[index].low == low { return (index, true) }
            index = (index + 1) & mask
        }
        return (index, false)
    }

    /// Brings into the cache the slot where `key`'s lookup or insert starts (see `OrderFilter.prefetch`).
    func prefetch(_ key: OrderKey) -> UInt64 { slots[key.hash & mask].lsn }

    /// Every entry held, in no particular order.
    func entries() -> [IndexedOrder] {
        var all: [IndexedOrder] = []
        all.reserveCapacity(count)
        for slot in slots where slot.lsn != 0 {
            all.append((UUID(words: slot.high, slot.low), slot.lsn, slot.contentDigest))
        }
        return all
    }

    mutating func removeAll() {
        slots.update(repeating: Self.empty)
        count = 0
    }

    private mutating func grow() {
        let old = slots
        slots = Self.emptySlots(2 * old.count)
        mask = slots.count - 1
        count = 0
        for slot in old where slot.lsn != 0 {
            var index = slot.hash & mask
            while slots[index].lsn != 0 { index = (index + 1) & mask }
            slots[index] = slot
            count += 1
        }
        old.deallocate()
    }

    private static let empty = Slot(high: 0, low: 0, lsn: 0, contentDigest: ContentDigest(high: 0, low: 0), hash: 0)

    /// `count` empty slots, every one written now. Why not zeroed pages from `calloc`, left unbacked until used
    /// (9f45a34): random inserts then touched the table's pages one by one on the ingest thread, and the kernel's
    /// page faults took 4.6 % of that thread in a 300,000-message catch-up (`scripts/profile-ingest perf`), where
    /// writing the slots in order at open costs a short pass. Every writer holds the 25 MiB resident, bounded.
    private static func emptySlots(_ count: Int) -> UnsafeMutableBufferPointer<Slot> {
        let slots = UnsafeMutableBufferPointer<Slot>.allocate(capacity: count)
        slots.initialize(repeating: empty)
        return slots
    }
}

extension UUID {
    /// The UUID's 16 bytes as two 64-bit words (first 8 bytes, last 8), as the in-memory order structures key it.
    var words: (high: UInt64, low: UInt64) {
        withUnsafeBytes(of: uuid) {
            ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
    }

    /// The UUID whose `words` these are.
    init(words high: UInt64, _ low: UInt64) {
        self = withUnsafeBytes(of: (high, low)) { UUID(uuid: $0.load(as: uuid_t.self)) }
    }
}
