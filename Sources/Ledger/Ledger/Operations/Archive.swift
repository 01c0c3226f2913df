import Crypto
import Foundation
import ObjectStore
import OperatingErrors

/// Where archived segments are kept (issue 14): `file:///path` (`FileArchive`) or `s3://bucket/prefix`
/// (`S3Archive`).
/// Objects are whole files, written so that a reader never sees a partial one (`put` is atomic) and durable once
/// `put` returns.
public protocol ArchiveTarget: Sendable {
    /// The URL the target was made from, for messages.
    var url: String { get }
    /// The object's bytes, nil when there is none.
    func get(_ name: String) throws -> Data?
    /// Stores `data` under `name`, replacing any object there, atomically and durably.
    func put(_ name: String, _ data: Data) throws
    /// The names of the folders at the archive's top (one per ledger).
    func topFolders() throws -> [String]
    /// The objects directly in `folder` (no trailing "/"), name → size in bytes: one listing, not one request per
    /// object.
    func objectBytes(in folder: String) throws -> [String: Int64]
    /// Removes the object (the tail deltas of a segment archived whole); removing what is not there succeeds.
    func delete(_ name: String) throws
}

/// An archive in a local (or mounted) directory: objects are files below it, written to a temporary name,
/// fsynced, renamed into place, and the directory fsynced.
public struct FileArchive: ArchiveTarget, Sendable {
    public let root: String
    public var url: String { "file://" + root }

    public init(root: String) { self.root = root }

    public func get(_ name: String) throws -> Data? {
        let path = root + "/" + name
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LedgerError(.io, "cannot read an archived object", [("path", path)])
        }
        return data
    }

    public func put(_ name: String, _ data: Data) throws {
        let path = root + "/" + name
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = path + ".tmp-\(getpid())"
        let fileSystem = PosixFileSystem()
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try data.write(to: URL(fileURLWithPath: temporary))
            // Owner-only, as every ledger file: segments hold customer data.
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: temporary)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
            try handle.synchronize()
            try handle.close()
        } catch {
            throw LedgerError(.io, "cannot write an archived object", [("path", temporary), ("error", "\(error)")])
        }
        try fileSystem.rename(temporary, to: path)
        try fileSystem.syncDirectory(directory)
    }

    public func topFolders() throws -> [String] { try names(in: root) }

    public func delete(_ name: String) throws {
        let path = root + "/" + name
        guard FileManager.default.fileExists(atPath: path) else { return }
        let fileSystem = PosixFileSystem()
        try fileSystem.remove(path)
        try fileSystem.syncDirectory((path as NSString).deletingLastPathComponent)
    }

    public func objectBytes(in folder: String) throws -> [String: Int64] {
        let directory = root + "/" + folder
        var sizes: [String: Int64] = [:]
        for name in try names(in: directory) {
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)
            if let size = attributes?[.size] as? NSNumber { sizes[name] = size.int64Value }
        }
        return sizes
    }

    private func names(in directory: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw LedgerError(.io, "cannot list an archive", [("path", directory), ("error", "\(error)")])
        }
    }
}

/// An archive in a bucket of an S3-compatible store (`s3://bucket/prefix`): objects are keys below the prefix.
/// A PUT is atomic and, once acknowledged, durable in the store.
public struct S3Archive: ArchiveTarget, Sendable {
    public let bucket: S3Bucket
    public var url: String { bucket.location.url }

    public init(bucket: S3Bucket) { self.bucket = bucket }

    public func get(_ name: String) throws -> Data? { try storeCall { try bucket.get(name) } }
    public func put(_ name: String, _ data: Data) throws { try storeCall { try bucket.put(name, data) } }
    public func topFolders() throws -> [String] { try storeCall { try bucket.list(folder: "").folders } }
    public func delete(_ name: String) throws { try storeCall { try bucket.delete(name) } }
    public func objectBytes(in folder: String) throws -> [String: Int64] {
        try storeCall { try bucket.list(folder: folder + "/").objectBytes }
    }

    /// The store's errors as the ledger's, with their context: the archive's callers handle one error type.
    private func storeCall<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ObjectStoreError {
            throw LedgerError(.io, "archive: \(error.message)", [("code", error.code.name)] + error.context)
        }
    }
}

/// Copies a ledger's sealed segments to an archive and back (`ledger-tool archive`, `ledger-tool restore`).
///
/// Layout: `<ledger id>/segments/<segment file>` and `<ledger id>/manifest.json`, which lists every archived
/// segment with its LSN range, size, SHA-256 and chain digest. A segment is archived when it is sealed (it never
/// changes again): uploaded, read back and compared (size and SHA-256) before the manifest names it. A run is
/// idempotent and resumable: an object the manifest names and that reads back right is left alone; one that is
/// missing or differs is reported and uploaded again, never skipped.
public enum LedgerArchive {
    /// One archived segment, as the manifest lists it.
    public struct Entry: Codable, Sendable, Hashable {
        public var file: String
        public var firstLsn: UInt64
        public var lastLsn: UInt64
        public var bytes: Int64
        public var sha256: String
        /// The segment's chain digest (the CRC of its last frame), which the next segment's header names.
        public var digest: UInt32
        /// The highest Kafka offset of each partition among the segment's records, "topic[partition]" → offset, by
        /// the index's rule (a gap counts up to its last missing offset): the archive holds each partition through
        /// the highest of these over its segments. Absent in entries archived before it was recorded.
        public var watermarks: [String: Int64]?

        /// The same object: everything but what was derived from its records (`watermarks`).
        func sameObject(as other: Entry) -> Bool {
            file == other.file && firstLsn == other.firstLsn && lastLsn == other.lastLsn && bytes == other.bytes
                && sha256 == other.sha256 && digest == other.digest
        }

        /// Whether this entry names `segment` as the index describes it (its bytes are checked by SHA-256 alone).
        func describes(_ segment: SegmentRow) -> Bool {
            file == segment.fileName && firstLsn == segment.firstLSN && lastLsn == segment.lastLSN
                && bytes == segment.byteLength && digest == segment.digest
        }
    }

    public struct Manifest: Codable, Sendable {
        public var schema = "pulse-ledger.archive.v1"
        public var ledgerId: String
        public var segments: [Entry]
        /// The open segment's durable bytes shipped so far (`shipTail`), in order; absent when none.
        public var tail: [TailDelta]?
    }

    public struct ArchiveReport: Sendable {
        public var ledgerID: UUID
        /// Segments uploaded by this run, and those already archived and verified.
        public var uploaded: [String] = []
        public var alreadyArchived = 0
        /// Objects that were missing or did not read back right, uploaded again.
        public var repaired: [String] = []
        public var bytesUploaded: Int64 = 0
        /// The last LSN in the archive (0 when nothing is).
        public var archivedThroughLSN: UInt64 = 0
        /// Evicted segments (`retain`) whose archived object is missing or damaged: their only copy. The run went
        /// on past them (newer segments still reach the archive); the caller must report each one loudly.
        public var evictedObjectsLost: [LedgerError] = []
    }

    public struct RestoreReport: Sendable {
        public var ledgerID: UUID
        public var segments: Int
        public var durableLSN: UInt64
    }

    /// The archive a URL names: `file:///path`, or `s3://bucket/prefix` with the endpoint, region and credentials
    /// from the AWS variables in `environment` (`S3Location`, `S3Credentials`).
    public static func target(url: String, environment: [String: String]) throws -> any ArchiveTarget {
        if url.hasPrefix("file:///") { return FileArchive(root: String(url.dropFirst("file://".count))) }
        guard url.hasPrefix("s3://") else {
            throw LedgerError(
                .invalidArgument, "an archive is file:///path or s3://bucket/prefix", [("archive", url)])
        }
        do {
            let location = try S3Location(url: url, environment: environment)
            return S3Archive(bucket: try S3Bucket(location, credentials: try S3Credentials(environment: environment)))
        } catch let error as ObjectStoreError {
            throw LedgerError(.invalidArgument, error.message, [("archive", url)] + error.context)
        }
    }

    /// Sealed bytes of the ledger not yet in an archive that holds it through `archivedThroughLSN`, and how long
    /// the oldest of them has been sealed (the next segment's creation time), for the archive-lag metrics.
    public static func lag(directory: String, archivedThroughLSN: UInt64) throws -> (bytes: Int64, seconds: Double) {
        let segments = try LedgerReader(directory: directory).segments()
        let waiting = segments.indices.filter { segments[$0].sealed && segments[$0].lastLSN > archivedThroughLSN }
        let bytes = waiting.reduce(Int64(0)) { $0 + segments[$1].byteLength }
        guard let oldest = waiting.first, oldest + 1 < segments.count else { return (bytes, 0) }
        let sealedAt = Double(segments[oldest + 1].createdAtMicroseconds) / 1e6
        return (bytes, max(0, Date().timeIntervalSince1970 - sealedAt))
    }

    /// How an archive run checks the segments the manifest already names.
    public enum Check: String, Sendable, CaseIterable {
        /// Each object is present with its size: one listing per run, cheap enough for every 30 s.
        case sizes
        /// Each object is read back whole and its SHA-256 compared: finds bit rot, costs a download of the
        /// archive (ledger-ingest does it at start and every `readBackIntervalSeconds`).
        case contents
    }

    /// Archives every sealed segment of the ledger in `directory` that the archive does not hold verified yet,
    /// after checking those it holds by `check`. With `readBackEvicted` false, segments `retain` evicted are
    /// checked by size even when `check` is `contents`: ledger-ingest's periodic read-back would otherwise download
    /// the whole history every 6 h, and their contents were read back when they were evicted (and there is no
    /// local copy to repair them from).
    public static func archive(
        directory: String, to target: any ArchiveTarget, check: Check = .contents, readBackEvicted: Bool = true
    ) throws -> ArchiveReport {
        let reader = try LedgerReader(directory: directory)
        let ledger = reader.ledgerID.text
        var manifest = try readManifest(target, ledger) ?? Manifest(ledgerId: ledger, segments: [])
        var report = ArchiveReport(ledgerID: reader.ledgerID)
        let evicted = try EvictedSegments.read(in: directory)
        let bySize = { (entry: Entry) in
            check == .sizes || (!readBackEvicted && entry.lastLsn <= evicted?.lastLSN ?? 0)
        }
        let sizes =
            try manifest.segments.contains(where: bySize) ? target.objectBytes(in: "\(ledger)/segments") : [:]
        let present = { (entry: Entry) in
            try bySize(entry)
                ? sizes[entry.file] == entry.bytes : matches(target, objectName(ledger, entry.file), entry)
        }
        for segment in try reader.segments() where segment.sealed {
            let listed = manifest.segments.first { $0.file == segment.fileName }
            // An archived segment is checked by its object alone: the local copy is read and hashed only to be
            // uploaded, not again at every run (ledger-ingest --archive-to runs every 30 s).
            if let listed, listed.describes(segment), try present(listed) {
                report.alreadyArchived += 1
                continue
            }
            if let evicted, segment.lastLSN <= evicted.lastLSN,
                !PosixFileSystem().fileExists(directory + "/" + segment.fileName)
            {
                report.evictedObjectsLost.append(evictedCopyLost(segment, evicted, target, directory))
                continue
            }
            let data = try segmentBytes(directory, segment)
            let entry = Entry(
                file: segment.fileName, firstLsn: segment.firstLSN, lastLsn: segment.lastLSN,
                bytes: Int64(data.count), sha256: sha256(data), digest: segment.digest,
                watermarks: try segmentWatermarks(directory, segment))
            if let listed {
                try checkRepairable(listed, entry, directory)
                report.repaired.append(entry.file)
            } else {
                report.uploaded.append(entry.file)
            }
            try upload(data, entry, ledger, target)
            manifest.segments.removeAll { $0.file == entry.file }
            manifest.segments.append(entry)
            manifest.segments.sort { $0.firstLsn < $1.firstLsn }
            try target.put(manifestName(ledger), try encoder().encode(manifest))
            report.bytesUploaded += entry.bytes
        }
        report.archivedThroughLSN = manifest.segments.last?.lastLsn ?? 0
        return report
    }

    /// Rebuilds the ledger `ledgerID` from the archive into `directory`, which must be empty or new: every object
    /// is checked against the manifest (size and SHA-256) before it is written, the segments must chain, and the
    /// index is rebuilt from them. Refused, naming the object, on any difference. With `until`, the ledger ends at
    /// that point (`RestorePoint`): later segments are not fetched, and the segment that holds the point is cut
    /// right after it. The ledger is built in a staging directory beside `directory` and renamed into place only
    /// once whole: a failed restore leaves nothing behind.
    public static func restore(
        from target: any ArchiveTarget, ledgerID: UUID, to directory: String, until point: RestorePoint? = nil,
        progress: (_ bytesDone: Int64, _ bytesTotal: Int64) -> Void = { _, _ in }
    ) throws -> RestoreReport {
        let ledger = ledgerID.text
        guard let manifest = try readManifest(target, ledger), !manifest.segments.isEmpty || manifest.tail != nil
        else {
            throw LedgerError(
                .invalidArgument, "the archive holds no segment of this ledger",
                [("archive", target.url), ("ledger_id", ledger)])
        }
        try checkEmptyOrNew(directory)
        let staging = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let stagingDirectory = staging + ".restoring-\(getpid())"
        try? FileManager.default.removeItem(atPath: stagingDirectory)
        try PosixFileSystem().makeDirectory(stagingDirectory)
        do {
            let segments = try fetchSegments(
                target, manifest, into: stagingDirectory, until: point, progress: progress)
            let rebuilt = try LedgerMaintenance.rebuildIndex(directory: stagingDirectory)
            guard rebuilt.durableLSN > 0 else {
                throw LedgerError(
                    .invalidArgument, "the archive holds no record at or before the point",
                    [("archive", target.url), ("until", point.map { "\($0)" } ?? "")])
            }
            try RestoreMarker.write(in: stagingDirectory, archive: target.url, durableLSN: rebuilt.durableLSN)
            try LedgerHistory.recordFork(in: stagingDirectory, afterLSN: rebuilt.durableLSN, archive: target.url)
            try? FileManager.default.removeItem(atPath: directory)  // empty, checked above
            try PosixFileSystem().rename(stagingDirectory, to: directory)
            try PosixFileSystem().syncDirectory((directory as NSString).deletingLastPathComponent)
            return RestoreReport(ledgerID: ledgerID, segments: segments, durableLSN: rebuilt.durableLSN)
        } catch {
            try? FileManager.default.removeItem(atPath: stagingDirectory)
            throw error
        }
    }

    /// Writes the manifest's segments, verified and chained, then the open segment's shipped tail, into
    /// `directory` up to `point`; the number of segment files written.
    private static func fetchSegments(
        _ target: any ArchiveTarget, _ manifest: Manifest, into directory: String, until point: RestorePoint?,
        progress: (Int64, Int64) -> Void
    ) throws -> Int {
        let total = manifest.segments.reduce(Int64(0)) { $0 + $1.bytes }
        var done: Int64 = 0
        var expectedFirstLSN: UInt64 = 1
        for (count, entry) in manifest.segments.enumerated() {
            guard entry.firstLsn == expectedFirstLSN else {
                throw LedgerError(
                    .corruption, "the archive's segments do not follow each other",
                    [("archive", target.url), ("segment", entry.file), ("expected_first_lsn", "\(expectedFirstLSN)")])
            }
            if case .lsn(let last) = point, entry.firstLsn > last { return count }
            try FileArchive(root: directory).put(entry.file, try verifiedObject(target, manifest.ledgerId, entry))
            done += entry.bytes
            progress(done, total)
            expectedFirstLSN = entry.lastLsn + 1
            if let point, try SegmentCut.cut(directory + "/" + entry.file, at: point) { return count + 1 }
        }
        var lastLSN = expectedFirstLSN - 1
        var written = manifest.segments.count
        if let tail = try tailSegment(target, manifest, after: lastLSN) {
            try FileArchive(root: directory).put(tail.file, tail.bytes)
            written += 1
            if let point, try SegmentCut.cut(directory + "/" + tail.file, at: point) { return written }
            lastLSN = manifest.tail?.last?.lastLsn ?? lastLSN
        }
        if let point, point != .lsn(lastLSN) {
            throw LedgerError(
                .invalidArgument, "the point is past the end of the archive: it cannot prove it holds all of it",
                [("archive", target.url), ("until", "\(point)"), ("archive_last_lsn", "\(lastLSN)")])
        }
        return written
    }

    private static func checkEmptyOrNew(_ directory: String) throws {
        if PosixFileSystem().fileExists(directory),
            try !FileManager.default.contentsOfDirectory(atPath: directory).isEmpty
        {
            throw LedgerError(
                .invalidArgument, "restore writes into an empty or new directory only", [("path", directory)])
        }
    }

    /// The ledger ids the archive holds a manifest for.
    public static func ledgers(in target: any ArchiveTarget) throws -> [UUID] {
        try target.topFolders().compactMap { UUID(uuidString: $0) }.filter {
            try target.get(manifestName($0.text)) != nil
        }
    }

    /// An evicted segment has no local copy to upload again: its archived object was the only one.
    private static func evictedCopyLost(
        _ segment: SegmentRow, _ evicted: EvictedSegments, _ target: any ArchiveTarget, _ directory: String
    ) -> LedgerError {
        LedgerError(
            .corruption,
            "an evicted segment is missing or damaged in the archive, and no local copy is left: put the object back from another copy of the archive",
            [
                ("archive", target.url), ("object", objectName(evicted.ledgerId, segment.fileName)),
                ("evicted_to", evicted.archive), ("record", directory + "/" + EvictedSegments.fileName),
            ])
    }

    /// A sealed segment never changes: a local copy that differs from the one the manifest verified is damage,
    /// and must not replace the archive's copy.
    private static func checkRepairable(_ listed: Entry, _ local: Entry, _ directory: String) throws {
        if listed.lastLsn != local.lastLsn || listed.digest != local.digest {
            throw LedgerError(
                .mismatch,
                "this ledger's history differs from the archived one from this segment on: it was restored to a point in time (a fork); archive it to a new prefix",
                [
                    ("path", directory + "/" + local.file), ("archived_last_lsn", "\(listed.lastLsn)"),
                    ("local_last_lsn", "\(local.lastLsn)"),
                ])
        }
        guard listed.sameObject(as: local) else {
            throw LedgerError(
                .corruption, "the local copy of an archived segment differs from the archived one",
                [
                    ("path", directory + "/" + local.file), ("expected_sha256", listed.sha256),
                    ("found_sha256", local.sha256),
                ])
        }
    }

    // MARK: Objects

    static func objectName(_ ledger: String, _ file: String) -> String { "\(ledger)/segments/\(file)" }
    static func manifestName(_ ledger: String) -> String { "\(ledger)/manifest.json" }

    private static func upload(_ data: Data, _ entry: Entry, _ ledger: String, _ target: any ArchiveTarget) throws {
        try putVerified(data, as: objectName(ledger, entry.file), sha256: entry.sha256, target)
    }

    /// Stores `data` under `name`, then reads it back: its size and SHA-256 must be what was written.
    static func putVerified(_ data: Data, as name: String, sha256 expected: String, _ target: any ArchiveTarget) throws
    {
        try target.put(name, data)
        guard let back = try target.get(name), back.count == data.count, sha256(back) == expected else {
            throw LedgerError(
                .io, "an archived object did not read back as written",
                [("archive", target.url), ("object", name), ("expected_sha256", expected)])
        }
    }

    private static func matches(_ target: any ArchiveTarget, _ name: String, _ entry: Entry) throws -> Bool {
        guard let data = try target.get(name) else { return false }
        return Int64(data.count) == entry.bytes && sha256(data) == entry.sha256
    }

    static func verifiedObject(_ target: any ArchiveTarget, _ ledger: String, _ entry: Entry) throws -> Data {
        let name = objectName(ledger, entry.file)
        guard let data = try target.get(name) else {
            throw LedgerError(
                .corruption, "an archived segment is missing", [("archive", target.url), ("object", name)])
        }
        let found = sha256(data)
        guard Int64(data.count) == entry.bytes, found == entry.sha256 else {
            throw LedgerError(
                .corruption,
                "an archived segment differs from what the manifest (or the record of evicted segments) says",
                [
                    ("archive", target.url), ("object", name),
                    ("expected", "\(entry.bytes) bytes, sha256 \(entry.sha256)"),
                    ("found", "\(data.count) bytes, sha256 \(found)"),
                ])
        }
        return data
    }

    static func readManifest(_ target: any ArchiveTarget, _ ledger: String) throws -> Manifest? {
        guard let data = try target.get(manifestName(ledger)) else { return nil }
        do {
            return try decoder().decode(Manifest.self, from: data)
        } catch {
            throw LedgerError(
                .corruption, "the archive's manifest cannot be read",
                [("archive", target.url), ("object", manifestName(ledger)), ("error", "\(error)")])
        }
    }

    static func segmentBytes(_ directory: String, _ segment: SegmentRow) throws -> Data {
        let path = directory + "/" + segment.fileName
        guard let data = FileManager.default.contents(atPath: path), Int64(data.count) == segment.byteLength else {
            throw LedgerError(
                .io, "a sealed segment cannot be read whole",
                [("path", path), ("expected_bytes", "\(segment.byteLength)")])
        }
        return data
    }

    /// The highest Kafka offset of each partition among a sealed segment's records (`Entry.watermarks`).
    static func segmentWatermarks(_ directory: String, _ segment: SegmentRow) throws -> [String: Int64] {
        let path = directory + "/" + segment.fileName
        let scanner = try SegmentScanner(file: PosixFileSystem().openForReading(path))
        var batch = IndexBatch()
        var lsn = segment.firstLSN
        while true {
            switch try scanner.next() {
            case .frame(let frame):
                for record in try frame.records(path: path) {
                    batch.note(record, lsn: lsn)
                    lsn += 1
                }
            case .sealed, .end:
                return Dictionary(uniqueKeysWithValues: batch.watermarks.map { ($0.key.description, $0.value.offset) })
            case .damaged(let offset, let violation):
                throw violation.error(path: path, offset: Int(offset), [("segment", segment.fileName)])
            }
        }
    }

    static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
