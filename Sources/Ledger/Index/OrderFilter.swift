import Foundation

/// An in-memory Bloom filter over every accepted order_id, so that the common case (a new order) never asks
/// SQLite. A "maybe" is confirmed against the index; a "no" is certain. Grows by adding filters, each sized for
/// twice the previous, so the false-positive rate stays near `falsePositiveRate` as the ledger grows.
///
/// Why written here: no package in the dependency set provides a Bloom filter; this is the textbook
/// double-hashing construction (Kirsch & Mitzenmacher 2006).
struct OrderFilter {
    /// Bits per expected order: 10 bits and 7 hashes give about 1% false positives.
    static let bitsPerOrder = 10
    static let hashCount = 7

    private struct Layer {
        var bits: [UInt64]
        var capacity: Int
        var count = 0
        var bitCount: UInt64 { UInt64(bits.count) * 64 }
    }

    private var layers: [Layer] = []

    init(expectedOrders: Int = 0) {
        addLayer(capacity: max(Limits.orderFilterOrdersInitial, expectedOrders * 2))
    }

    private mutating func addLayer(capacity: Int) {
        let words = (capacity * Self.bitsPerOrder + 63) / 64
        layers.append(Layer(bits: [UInt64](repeating: 0, count: words), capacity: capacity))
    }

    mutating func insert(_ orderID: UUID) {
        if layers[layers.count - 1].count >= layers[layers.count - 1].capacity { addLayer(capacity: layers[layers.count - 1].capacity * 2) }
        let (first, second) = Self.hashes(orderID)
        let last = layers.count - 1
        for index in 0..<UInt64(Self.hashCount) {
            let bit = (first &+ index &* second) % layers[last].bitCount
            layers[last].bits[Int(bit / 64)] |= 1 << (bit % 64)
        }
        layers[last].count += 1
    }

    /// False means the order was certainly never inserted.
    func mightContain(_ orderID: UUID) -> Bool {
        let (first, second) = Self.hashes(orderID)
        return layers.contains { layer in
            (0..<UInt64(Self.hashCount)).allSatisfy { index in
                let bit = (first &+ index &* second) % layer.bitCount
                return layer.bits[Int(bit / 64)] & (1 << (bit % 64)) != 0
            }
        }
    }

    /// Two 64-bit hashes of the UUID's bytes, mixed (SplitMix64's finalizer) so that non-random UUIDs spread too.
    private static func hashes(_ orderID: UUID) -> (UInt64, UInt64) {
        let (high, low) = withUnsafeBytes(of: orderID.uuid) { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        return (mix(high ^ 0x9E37_79B9_7F4A_7C15), mix(low &+ high) | 1)
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
