import Crypto
import Foundation
import MessageSchema

/// The first 128 bits of the SHA-256 of a transaction's content: what the order index keeps beside each
/// accepted order, so that a repeated order_id is classified by one index lookup, without reading the original
/// record back (issue 12: reading and decoding its frame made each redelivery of an old order cost ~3.6 ms).
///
/// Why this proves "same content": the digested bytes are an injective encoding of exactly what
/// `Transaction.hasSameContent` compares (the instant of the timestamp, not its text), so equal content gives
/// equal digests, and different content gives equal digests only by a SHA-256 collision on 128 bits: 2^-128
/// per pair at random, and about 2^64 hash computations for a producer who searches for one on purpose. Even
/// then nothing is lost: a duplicate record keeps the message's whole content, only its kind would be wrong.
/// Why not the whole 256 bits: 16 bytes an order instead of 32 keep the order index's B-tree a third smaller.
///
/// The encoding (version 1), all integers little-endian:
///
///     offset  size  field
///     0       1     encoding version (1)
///     1       16    order_id (RFC 4122 bytes)
///     17      8     amount in cents (Int64)
///     25      8     timestamp, microseconds since the Unix epoch, UTC (Int64)
///     33      4+n   currency code (UInt32 byte count, then UTF-8)
///     …       4+n   customer_id (UInt32 byte count, then UTF-8)
///     …       4+n   product_category (UInt32 byte count, then UTF-8)
struct ContentDigest: Hashable, Sendable {
    static let encodingVersion: UInt8 = 1
    /// Bytes kept of the SHA-256.
    static let byteCount = 16

    let high: UInt64
    let low: UInt64

    init(_ transaction: Transaction) {
        // The whole encoding in one buffer and one `update`: a call per field (ten) was most of the digest's
        // cost, each going through swift-crypto's copy-on-write context (perf of an import of the mix, 2026-12-07).
        var encoding = ByteWriter(capacity: Self.encodingBytesReserved)
        func append(text: String) {
            var text = text
            text.withUTF8 { bytes in
                encoding.append(littleEndian: UInt32(bytes.count))
                encoding.append(bytes: bytes)
            }
        }
        encoding.append(littleEndian: Self.encodingVersion)
        withUnsafeBytes(of: transaction.orderID.uuid) { encoding.append(bytes: $0) }
        encoding.append(littleEndian: transaction.amount.rawValue)
        encoding.append(littleEndian: transaction.timestamp.microsecondsSinceEpoch)
        append(text: transaction.currency.code)
        append(text: transaction.customerID)
        append(text: transaction.productCategory)
        var hasher = SHA256()
        encoding.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        (high, low) = hasher.finalize().withUnsafeBytes {
            ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
    }

    /// Bytes reserved for an order's encoding: its fixed part (33) and three short texts without growing; a
    /// longer one (text fields reach 200 bytes) grows the buffer once.
    private static let encodingBytesReserved = 128

    /// The digest whose 16 bytes are `high` then `low` (little-endian): what `OrderTable` keeps of it.
    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// From the 16 bytes the index stores; nil when there are not 16 (a damaged or foreign index).
    init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        (high, low) = bytes.withUnsafeBytes {
            ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
    }

    /// The 16 bytes the index stores (the digest's first bytes, in order).
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: (high, low)) { try body($0) }
    }
}

extension Transaction {
    var contentDigest: ContentDigest { ContentDigest(self) }
}
