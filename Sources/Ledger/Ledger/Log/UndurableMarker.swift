import Foundation
import OperatingErrors

/// `UNDURABLE`: left in a ledger directory by a writer whose write or fsync failed, naming the last LSN it
/// made durable. After a failed fsync the page cache cannot be trusted (Linux may drop the dirty pages and mark
/// them clean, so a later read or fsync "succeeds"), so frames past that LSN may be on disk, half on disk or not
/// at all, whatever a read now shows. They were never acknowledged (offsets are committed only after a good
/// fsync), so the next open drops them, keeping a copy, and Kafka delivers those messages again. Without the
/// marker, recovery would take frames that read back intact for a crash's unpublished tail and publish them.
///
/// Format: one line of ASCII, `durable_lsn=N`.
enum UndurableMarker {
    static let fileName = "UNDURABLE"

    /// Leaves the marker, durably. Called on the failure path: its own errors go to the caller's log, since
    /// the original failure is what the caller reports.
    static func write(_ directory: String, durableLSN: UInt64, fileSystem: any FileSystem) throws {
        let path = directory + "/" + fileName
        if fileSystem.fileExists(path) { try fileSystem.remove(path) }
        let file = try fileSystem.open(path, create: true)
        try file.write(Array("durable_lsn=\(durableLSN)\n".utf8), at: 0)
        try file.sync()
        try fileSystem.syncDirectory(directory)
    }

    /// The durable LSN the marker names, or nil when there is no marker.
    static func read(_ directory: String, fileSystem: any FileSystem) throws -> UInt64? {
        let path = directory + "/" + fileName
        guard fileSystem.fileExists(path) else { return nil }
        let file = try fileSystem.openForReading(path)
        let text = String(decoding: try file.read(count: 64, at: 0), as: UTF8.self).trimmingCharacters(
            in: .whitespacesAndNewlines)
        guard text.hasPrefix("durable_lsn="), let lsn = UInt64(text.dropFirst("durable_lsn=".count)) else {
            throw LedgerError(
                .corruption, "the UNDURABLE marker is unreadable",
                [("path", path), ("expected", "durable_lsn=N"), ("found", text)])
        }
        return lsn
    }

    /// Removes the marker once recovery dropped what it covered.
    static func remove(_ directory: String, fileSystem: any FileSystem) throws {
        try fileSystem.remove(directory + "/" + fileName)
        try fileSystem.syncDirectory(directory)
    }
}
