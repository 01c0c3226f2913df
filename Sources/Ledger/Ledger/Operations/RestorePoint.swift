import Foundation
import MessageSchema

/// Where a point-in-time restore stops (`ledger-tool restore --until`).
///
/// - `lsn(N)`: through record N, inclusive.
/// - `ingestedBy(T)`: through the last record before the first record ingested after T (its ingest time, written by
///   ledger-ingest when the record became part of the ledger; never an object's modification time). Ingest times
///   follow LSNs within a batch and from batch to batch on one writer, so this is "everything the ledger held at
///   T" as far as the archive has it.
///
/// A target past what the archive holds is refused, naming the archive's last LSN and time: the archive cannot
/// prove that it holds everything up to the target (the open segment is not archived).
public enum RestorePoint: Sendable, Equatable, CustomStringConvertible {
    case lsn(UInt64)
    /// Microseconds since the Unix epoch, UTC.
    case ingestedBy(microsecondsSinceEpoch: Int64)

    /// An LSN (digits, 1 or more) or an RFC 3339 time with its zone (`2026-12-06T21:00:00Z`), read by the same
    /// parser as the messages' timestamps and `rebuild warehouse --until`.
    public init?(_ text: String) {
        if text.allSatisfy(\.isNumber) {
            guard let lsn = UInt64(text), lsn >= 1 else { return nil }
            self = .lsn(lsn)
            return
        }
        guard case .success(let instant) = RFC3339.parse(text) else { return nil }
        self = .ingestedBy(microsecondsSinceEpoch: instant.microsecondsSinceEpoch)
    }

    public var description: String {
        switch self {
        case .lsn(let lsn): return "LSN \(lsn)"
        case .ingestedBy(let micros):
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.string(from: Date(timeIntervalSince1970: Double(micros) / 1e6))
        }
    }

    /// Whether `record` at `lsn` lies after the point (it and everything after it are left out).
    func isPast(_ lsn: UInt64, _ record: Record) -> Bool {
        switch self {
        case .lsn(let last): return lsn > last
        case .ingestedBy(let micros): return record.ingestTimeMicroseconds > micros
        }
    }
}

/// Cuts a restored segment at a `RestorePoint`: the frames before the first record past the point stay as they
/// are; the frame that holds that record is encoded again with the records before it (same first LSN, same chain
/// link); the rest and the footer are dropped. The segment is then the ledger's open segment, as after a crash
/// right after that record, and the index rebuild treats it so.
enum SegmentCut {
    /// Cuts the segment at `path` if a record past `point` is in it; returns whether it did.
    static func cut(_ path: String, at point: RestorePoint) throws -> Bool {
        let fileSystem = PosixFileSystem()
        let file = try fileSystem.open(path, create: false)
        let scanner = try SegmentScanner(file: file)
        var lsn = scanner.header.firstLSN
        while case .frame(let frame) = try scanner.next() {
            let records = try frame.records(path: path)
            guard let keep = records.indices.first(where: { point.isPast(lsn + UInt64($0), records[$0]) }) else {
                lsn += UInt64(records.count)
                continue
            }
            try file.truncate(to: frame.offset)
            if keep > 0 {
                var encoder = FrameEncoder()
                for record in records[..<keep] { encoder.add(record, try encoder.encode(record)) }
                let rewritten = encoder.finish(firstLSN: frame.header.firstLSN, chainLink: frame.header.chainLink)
                try file.write(rewritten.bytes, at: frame.offset)
            }
            try file.sync()
            return true
        }
        return false
    }
}
