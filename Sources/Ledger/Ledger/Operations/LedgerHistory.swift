import Foundation

/// The histories of a ledger directory (`history.json`), written by `restore`: each restore starts a new history
/// after the LSN it restored to (a fork, like a PostgreSQL timeline). ledger-ingest then re-reads from Kafka what
/// the archive lacked and may give those messages other LSNs than the lost ledger did, so a warehouse projected from
/// the lost ledger past the fork no longer matches this one. The projector compares the latest fork with the
/// history its warehouse names (migration 0006) and refuses to go on from a checkpoint past the fork. Never removed.
public enum LedgerHistory {
    public static let fileName = "history.json"

    public struct Fork: Codable, Sendable, Equatable {
        /// Names the history that starts after `afterLsn`.
        public var id: UUID
        /// The last LSN shared with the previous history (the restored durable LSN).
        public var afterLsn: UInt64
        public var restoredAt: String
        public var archive: String
    }

    struct File: Codable {
        var forks: [Fork]
    }

    /// The most recent fork of the ledger in `directory`, nil for a ledger never restored.
    public static func latestFork(in directory: String) throws -> Fork? {
        guard let data = FileManager.default.contents(atPath: directory + "/" + fileName) else {
            guard PosixFileSystem().fileExists(directory + "/" + fileName) else { return nil }
            throw LedgerError(.io, "cannot read the ledger's history", [("path", directory + "/" + fileName)])
        }
        do {
            return try decoder().decode(File.self, from: data).forks.last
        } catch {
            throw LedgerError(
                .corruption, "the ledger's history cannot be read",
                [("path", directory + "/" + fileName), ("error", "\(error)")])
        }
    }

    /// Adds a fork after `lsn` (written durably: temporary file, fsync, rename, directory fsync).
    static func recordFork(in directory: String, afterLSN lsn: UInt64, archive: String) throws {
        var file = File(forks: [])
        if let data = FileManager.default.contents(atPath: directory + "/" + fileName) {
            file = try decoder().decode(File.self, from: data)
        }
        file.forks.append(
            Fork(id: UUID(), afterLsn: lsn, restoredAt: ISO8601DateFormatter().string(from: Date()), archive: archive))
        try FileArchive(root: directory).put(fileName, try LedgerArchive.encoder().encode(file))
    }

    private static func decoder() -> JSONDecoder { LedgerArchive.decoder() }
}
