import Foundation
import OperatingErrors

/// The sealed segments whose local files `ledger-tool retain` deleted once they were archived, verified in the
/// archive and behind every warehouse checkpoint (issue 14), and the archive that holds them.
///
/// `evicted-segments.json` in the ledger directory. It is written durably (temporary file, fsync, rename,
/// directory fsync) *before* a segment file is removed, so a crash between the two leaves a segment that is both
/// local and listed: the reader opens the local file, recovery takes the listing, and the next `retain` removes
/// the file. The segments listed are always a prefix of the ledger
/// (from LSN 1, without a gap), so the local files are the rest of it. The index keeps every row of an evicted
/// segment: readers find a frame through it as before, and open the file through `EvictedSegmentCache`.
public struct EvictedSegments: Codable, Sendable {
    public static let fileName = "evicted-segments.json"

    public var schema = "pulse-ledger.evicted.v1"
    public var ledgerId: String
    /// The archive URL the segments were verified in (`file:///path` or `s3://bucket/prefix`).
    public var archive: String
    /// As the archive's manifest lists them (size, SHA-256, chain digest), in LSN order.
    public var segments: [LedgerArchive.Entry]

    /// The entry of the segment whose first LSN is `firstLSN`, if it was evicted.
    public func entry(firstLSN: UInt64) -> LedgerArchive.Entry? { segments.first { $0.firstLsn == firstLSN } }

    /// The last LSN held only in the archive (0 when nothing was evicted).
    public var lastLSN: UInt64 { segments.last?.lastLsn ?? 0 }

    /// The record of `directory`, nil when no segment was ever evicted.
    public static func read(in directory: String) throws -> EvictedSegments? {
        let path = directory + "/" + fileName
        guard PosixFileSystem().fileExists(path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LedgerError(.io, "cannot read the record of evicted segments", [("path", path)])
        }
        return try decode(data, path: path)
    }

    /// The record in the directory held open, nil when there is none.
    static func read(_ directory: PinnedDirectory) throws -> EvictedSegments? {
        guard directory.exists(fileName) else { return nil }
        return try decode(Data(try directory.contents(of: fileName)), path: directory.path + "/" + fileName)
    }

    private static func decode(_ data: Data, path: String) throws -> EvictedSegments {
        let record: EvictedSegments
        do {
            record = try LedgerArchive.decoder().decode(EvictedSegments.self, from: data)
        } catch {
            throw LedgerError(
                .corruption, "the record of evicted segments cannot be read", [("path", path), ("error", "\(error)")])
        }
        try record.checkPrefix(path: path)
        guard UUID(uuidString: record.ledgerId) != nil else {
            throw LedgerError(
                .corruption, "the record of evicted segments names no ledger id", [("path", path)])
        }
        return record
    }

    /// The ledger the segments belong to (checked to be a UUID when the record is read).
    var ledgerID: UUID { UUID(uuidString: ledgerId)! }

    /// Written durably into the directory held open; replaces the previous record atomically.
    func write(_ directory: PinnedDirectory) throws {
        try checkPrefix(path: directory.path + "/" + Self.fileName)
        try directory.replaceDurably(Self.fileName, with: try LedgerArchive.encoder().encode(self))
    }

    /// The segments must follow each other from LSN 1: a record that says otherwise was edited or damaged, and a
    /// reader relying on it could miss records.
    private func checkPrefix(path: String) throws {
        var expected: UInt64 = 1
        for entry in segments {
            guard entry.firstLsn == expected, entry.lastLsn >= entry.firstLsn else {
                throw LedgerError(
                    .corruption, "the record of evicted segments has a gap",
                    [("path", path), ("segment", entry.file), ("expected_first_lsn", "\(expected)")])
            }
            expected = entry.lastLsn + 1
        }
    }
}

/// One evicted segment, with the ledger it belongs to: what recovery checks the chain with.
struct EvictedSegment {
    var ledgerID: UUID
    var archived: LedgerArchive.Entry
}

/// Opens the segment files of a ledger, fetching from the archive those `ledger-tool retain` evicted.
///
/// A fetched segment is checked against the record (size and SHA-256) before it is read, kept in a private
/// temporary directory of this process (removed in `deinit`), and at most
/// `Limits.evictedSegmentCacheFilesMax` of them are kept: the least recently used goes first. An open file
/// stays readable after its cache entry is removed (POSIX keeps unlinked files open).
public final class EvictedSegmentCache {
    let directory: String
    private let environment: [String: String]
    private var record: EvictedSegments?
    private var recordIdentity: FileIdentity?
    private var target: (any ArchiveTarget)?
    private var cacheDirectory: String?
    /// Cached files by first LSN, least recently used first.
    private var cached: [(firstLSN: UInt64, path: String)] = []

    public init(directory: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.directory = directory
        self.environment = environment
    }

    deinit {
        if let cacheDirectory { try? FileManager.default.removeItem(atPath: cacheDirectory) }
    }

    /// The record as it is on disk now (`retain` may have added to it since the last call).
    public func currentRecord() throws -> EvictedSegments? {
        let path = directory + "/" + EvictedSegments.fileName
        guard PosixFileSystem().fileExists(path) else { return nil }
        let identity = try FileIdentity(path: path)
        if identity != recordIdentity {
            record = try EvictedSegments.read(in: directory)
            recordIdentity = identity
        }
        return record
    }

    /// Opens the segment whose first LSN is `firstLSN`: the local file, or else the archived copy when the
    /// segment was evicted. A segment neither local nor evicted fails as opening the local file failed.
    func open(firstLSN: UInt64, fileSystem: any FileSystem) throws -> any LedgerFile {
        let local = SegmentFiles.path(directory, firstLSN: firstLSN)
        do {
            return try fileSystem.openForReading(local)
        } catch {
            // Retention may remove the file between the index naming it and this open: ask the record after.
            guard let path = try fetchedPath(firstLSN: firstLSN) else { throw error }
            return try PosixFileSystem().openForReading(path)
        }
    }

    /// A path holding the bytes of the segment file `fileName` of this ledger: the local file, or the archived copy
    /// fetched and checked when `retain` evicted it; nil when it is neither.
    public func readablePath(of fileName: String) throws -> String? {
        let local = directory + "/" + fileName
        if PosixFileSystem().fileExists(local) { return local }
        return try SegmentFormat.firstLSN(fileName: fileName).flatMap { try fetchedPath(firstLSN: $0) }
    }

    /// A path holding the evicted segment's bytes, fetched and checked if not cached; nil if it was not evicted.
    func fetchedPath(firstLSN: UInt64) throws -> String? {
        if try currentRecord()?.entry(firstLSN: firstLSN) == nil {
            // The record is cached by inode, and a rename can reuse one: read it again before saying "not evicted".
            recordIdentity = nil
        }
        guard let record = try currentRecord(), let entry = record.entry(firstLSN: firstLSN) else { return nil }
        if let hit = cached.firstIndex(where: { $0.firstLSN == firstLSN }) {
            cached.append(cached.remove(at: hit))
            return cached[cached.count - 1].path
        }
        let data = try LedgerArchive.verifiedObject(try archive(record), record.ledgerId, entry)
        let path = try cacheFolder() + "/" + entry.file
        try data.write(to: URL(fileURLWithPath: path))
        cached.append((firstLSN, path))
        while cached.count > Limits.evictedSegmentCacheFilesMax {
            try? FileManager.default.removeItem(atPath: cached.removeFirst().path)
        }
        return path
    }

    private func archive(_ record: EvictedSegments) throws -> any ArchiveTarget {
        if let target, target.url == record.archive { return target }
        let made = try LedgerArchive.target(url: record.archive, environment: environment)
        target = made
        return made
    }

    private func cacheFolder() throws -> String {
        if let cacheDirectory { return cacheDirectory }
        let path = NSTemporaryDirectory() + "pulse-ledger-evicted-\(getpid())-\(UUID().uuidString.prefix(8))"
        try PosixFileSystem().makeDirectory(path)
        cacheDirectory = path
        return path
    }
}
