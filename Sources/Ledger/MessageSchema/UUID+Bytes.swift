import Foundation

extension UUID {
    /// Lower-case text, as PostgreSQL and RFC 4122 print uuids: the one form of an id in logs, errors, metrics
    /// and command output (Foundation's `uuidString` is upper case).
    package var text: String { uuidString.lowercased() }

    /// The 16 bytes of the UUID in RFC 4122 (network) order.
    package var bytes: [UInt8] {
        withUnsafeBytes(of: uuid) { Array($0) }
    }

    package init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == 16, "a UUID has 16 bytes")
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: bytes) }
        self.init(uuid: value)
    }
}
