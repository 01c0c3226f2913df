import Foundation

/// A file `restore` leaves in the ledger it rebuilt, until ledger-ingest has told Kafka where this ledger ends.
///
/// Why: the consumer group's committed offsets record what the *lost* ledger made durable, which includes what the
/// archive never received (the open segment, and segments not yet shipped). ledger-ingest normally starts each
/// partition at the further of the ledger's watermark and the group's offset (a group offset past the ledger
/// means another ledger of the group consumed that range). On a restored ledger that rule would skip exactly the
/// range the restore lacks: while this marker exists, ingest starts at the ledger's watermark, commits it (moving
/// the group's offsets back), and then removes the marker.
public enum RestoreMarker {
    public static let fileName = "restored-from-archive.json"

    struct Contents: Codable {
        var archive: String
        var durableLsn: UInt64
        var restoredAt: String
    }

    public static func exists(in directory: String) -> Bool {
        PosixFileSystem().fileExists(directory + "/" + fileName)
    }

    /// Written durably (the directory is fsynced by the restore's rename).
    static func write(in directory: String, archive: String, durableLSN: UInt64) throws {
        let contents = Contents(
            archive: archive, durableLsn: durableLSN, restoredAt: ISO8601DateFormatter().string(from: Date()))
        try FileArchive(root: directory).put(fileName, try LedgerArchive.encoder().encode(contents))
    }

    /// Removes the marker once the group's offsets agree with the ledger; the directory is fsynced.
    public static func remove(from directory: String) throws {
        let fileSystem = PosixFileSystem()
        guard fileSystem.fileExists(directory + "/" + fileName) else { return }
        try fileSystem.remove(directory + "/" + fileName)
        try fileSystem.syncDirectory(directory)
    }
}
