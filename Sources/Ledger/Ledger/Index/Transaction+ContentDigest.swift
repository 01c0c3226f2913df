import Foundation
import MessageSchema

extension Transaction {
    /// A 64-bit FNV-1a digest of the content (`hasSameContent`): equal content gives equal digests, so a
    /// differing digest proves a conflict without reading the original record; equal digests are confirmed
    /// by comparing the records themselves.
    var contentDigest: Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ bytes: some Sequence<UInt8>) {
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        }
        mix(orderID.bytes)
        withUnsafeBytes(of: amount.rawValue.littleEndian) { mix($0) }
        mix(currency.code.utf8)
        withUnsafeBytes(of: timestamp.microsecondsSinceEpoch.littleEndian) { mix($0) }
        mix(customerID.utf8)
        mix([0])
        mix(productCategory.utf8)
        return Int64(bitPattern: hash)
    }
}
