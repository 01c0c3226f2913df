import Foundation

/// An in-memory Bloom filter over every accepted order_id, so that the common case (a new order) never asks
/// SQLite. A "maybe" is confirmed against the index; a "no" is certain. Grows by adding filters, each sized for
/// twice the previous, so the false-positive rate stays near 1% as the ledger grows.
///
/// Cache-blocked (Putze, Sanders & Singler 2007): an order's bits all lie in one 64-byte block, so an insert or
/// a lookup costs one cache miss instead of `hashCount`. The filter is tens of MiB (`Limits.orderFilterOrdersInitial`);
/// with its bits spread over the whole array, it took 12% of ingest's time in cache misses.
///
/// Why written here: no package in the dependency set provides a Bloom filter.
struct OrderFilter {
    /// Bits per expected order: 10 bits and 7 hashes in 512-bit blocks give about 1% false positives.
    static let bitsPerOrder = 10
    static let hashCount = 7
    /// 64-bit words per block: one 64-byte cache line.
    static let wordsPerBlock = 8

    private struct Layer {
        var words: [UInt64]
        var capacity: Int
        var count = 0
        var blockCount: UInt64 { UInt64(words.count / OrderFilter.wordsPerBlock) }
    }

    private var layers: [Layer] = []

    /// Sized for twice `expectedOrders` (the orders already in the ledger), and at least `capacityOrders`.
    init(expectedOrders: Int = 0, capacityOrders: Int = Limits.orderFilterOrdersInitial) {
        addLayer(capacity: max(capacityOrders, expectedOrders * 2))
    }

    private mutating func addLayer(capacity: Int) {
        let blocks = (capacity * Self.bitsPerOrder + 511) / 512
        layers.append(Layer(words: [UInt64](repeating: 0, count: blocks * Self.wordsPerBlock), capacity: capacity))
    }

    mutating func insert(_ orderID: UUID) {
        if layers[layers.count - 1].count >= layers[layers.count - 1].capacity {
            addLayer(capacity: layers[layers.count - 1].capacity * 2)
        }
        let (first, second) = Self.hashes(orderID)
        let last = layers.count - 1
        let base = Self.blockStart(first, layers[last].blockCount)
        layers[last].words.withUnsafeMutableBufferPointer { words in
            for index in 0..<Self.hashCount {
                let bit = Self.bit(second, index)
                words[base + (bit >> 6)] |= 1 << (bit & 63)
            }
        }
        layers[last].count += 1
    }

    /// False means the order was certainly never inserted.
    func mightContain(_ orderID: UUID) -> Bool {
        let (first, second) = Self.hashes(orderID)
        return layers.contains { layer in
            let base = Self.blockStart(first, layer.blockCount)
            return layer.words.withUnsafeBufferPointer { words in
                (0..<Self.hashCount).allSatisfy { index in
                    let bit = Self.bit(second, index)
                    return words[base + (bit >> 6)] & (1 << (bit & 63)) != 0
                }
            }
        }
    }

    /// Reads the block of every layer that `orderID` maps to, and returns a value made of those reads (the caller
    /// keeps it, so the reads cannot be optimised away). The reads depend on nothing but the ID, so the processor
    /// overlaps the cache misses of a batch's prefetches: the batch's lookups that follow then hit the cache.
    func prefetch(_ orderID: UUID) -> UInt64 {
        var sink: UInt64 = 0
        let (first, _) = Self.hashes(orderID)
        for layer in layers {
            sink ^= layer.words.withUnsafeBufferPointer { $0[Self.blockStart(first, layer.blockCount)] }
        }
        return sink
    }

    /// The first word of the block `hash` picks, by multiply-high (Lemire's range reduction): no division.
    private static func blockStart(_ hash: UInt64, _ blockCount: UInt64) -> Int {
        Int(hash.multipliedFullWidth(by: blockCount).high) * wordsPerBlock
    }

    /// The `index`-th bit within a block: 9 bits of the second hash each (7 × 9 = 63 bits).
    private static func bit(_ hash: UInt64, _ index: Int) -> Int {
        Int((hash >> UInt64(9 * index)) & 511)
    }

    /// Two 64-bit hashes of the UUID's bytes, mixed (SplitMix64's finalizer) so that non-random UUIDs spread too.
    private static func hashes(_ orderID: UUID) -> (UInt64, UInt64) {
        let (high, low) = orderID.words
        return (mix(high ^ 0x9E37_79B9_7F4A_7C15), mix(low &+ high))
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
