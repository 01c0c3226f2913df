import Crypto
import Foundation

/// The open segment's durable bytes, shipped on a timer (`ledger-ingest --archive-tail-seconds`), so that at most
/// that long of acknowledged data lives only on the local disk. Sealed segments wait until they seal (64 MiB).
///
/// Only durable bytes leave: the index publishes a segment's length after the fsync that made it durable, and a
/// segment never changes below that length. Each run ships the bytes from the end of the last delta to the
/// published length as one object, `<ledger id>/tail/<segment file>/<from>-<to>` (byte offsets), read back and
/// compared before the manifest's `tail` lists it. Deltas chain by offset from byte 0 (the segment header); the
/// frames inside them carry their own checksums and chain, which the restore's index rebuild checks. Once the
/// segment is sealed and archived whole, its deltas leave the manifest and their objects are deleted.
extension LedgerArchive {
    /// One shipped piece of the open segment.
    public struct TailDelta: Codable, Sendable, Hashable {
        public var file: String
        public var fromByte: Int64
        public var toByte: Int64
        /// The segment's last durable LSN when the delta was cut.
        public var lastLsn: UInt64
        public var sha256: String
    }

    static func tailObjectName(_ ledger: String, _ delta: TailDelta) -> String {
        "\(ledger)/tail/\(delta.file)/\(delta.fromByte)-\(delta.toByte)"
    }

    /// Ships the open segment's durable bytes not yet in the archive (after `archive` has shipped the sealed
    /// ones), and forgets the deltas of segments now archived whole. Returns the last LSN the archive holds,
    /// tail included.
    public static func shipTail(directory: String, to target: any ArchiveTarget) throws -> UInt64 {
        let reader = try LedgerReader(directory: directory)
        let ledger = reader.ledgerID.text
        var manifest = try readManifest(target, ledger) ?? Manifest(ledgerId: ledger, segments: [])
        let archived = Set(manifest.segments.map(\.file))
        let stale = (manifest.tail ?? []).filter { archived.contains($0.file) }
        var deltas = (manifest.tail ?? []).filter { !archived.contains($0.file) }
        if let open = try reader.segments().last, !open.sealed,
            open.firstLSN == (manifest.segments.last?.lastLsn ?? 0) + 1
        {
            deltas.removeAll { $0.file != open.fileName }  // a segment that vanished (a restore): start again
            let from = deltas.last?.toByte ?? 0
            if open.byteLength > from {
                let delta = try cutDelta(directory, open, from: from)
                try putVerified(
                    delta.bytes, as: tailObjectName(ledger, delta.delta), sha256: delta.delta.sha256, target)
                deltas.append(delta.delta)
            }
        }
        if deltas != (manifest.tail ?? []) {
            manifest.tail = deltas.isEmpty ? nil : deltas
            try target.put(manifestName(ledger), try encoder().encode(manifest))
        }
        for delta in stale { try? target.delete(tailObjectName(ledger, delta)) }
        return deltas.last?.lastLsn ?? manifest.segments.last?.lastLsn ?? 0
    }

    private static func cutDelta(_ directory: String, _ open: SegmentRow, from: Int64) throws -> (
        delta: TailDelta, bytes: Data
    ) {
        let path = directory + "/" + open.fileName
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw LedgerError(.io, "cannot open the open segment", [("path", path)])
        }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(from))
        let bytes = try handle.read(upToCount: Int(open.byteLength - from)) ?? Data()
        guard bytes.count == Int(open.byteLength - from) else {
            throw LedgerError(
                .io, "the open segment is shorter than its durable length",
                [
                    ("path", path), ("expected_bytes", "\(open.byteLength)"),
                    ("found_bytes", "\(Int(from) + bytes.count)"),
                ])
        }
        let delta = TailDelta(
            file: open.fileName, fromByte: from, toByte: open.byteLength, lastLsn: open.lastLSN, sha256: sha256(bytes))
        return (delta, bytes)
    }

    /// The open segment rebuilt from the manifest's deltas (each checked, chained by offset from byte 0), or nil
    /// when the archive holds no tail after `lastSealedLSN`.
    static func tailSegment(_ target: any ArchiveTarget, _ manifest: Manifest, after lastSealedLSN: UInt64) throws
        -> (file: String, bytes: Data)?
    {
        let deltas = manifest.tail ?? []
        guard let file = deltas.first?.file,
            SegmentFormat.firstLSN(fileName: file) == lastSealedLSN + 1
        else { return nil }
        var bytes = Data()
        for delta in deltas {
            let name = tailObjectName(manifest.ledgerId, delta)
            guard delta.file == file, delta.fromByte == Int64(bytes.count) else {
                throw LedgerError(
                    .corruption, "the archive's tail deltas do not follow each other",
                    [("archive", target.url), ("object", name), ("expected_from_byte", "\(bytes.count)")])
            }
            guard let data = try target.get(name), Int64(data.count) == delta.toByte - delta.fromByte,
                sha256(data) == delta.sha256
            else {
                throw LedgerError(
                    .corruption, "an archived tail delta is missing or differs from what the manifest says",
                    [("archive", target.url), ("object", name), ("expected_sha256", delta.sha256)])
            }
            bytes.append(data)
        }
        return (file, bytes)
    }
}
