import Foundation
import OperatingErrors

/// Creating, listing and reading whole segment files: shared by the writer, recovery and readers.
enum SegmentFiles {
    static let temporarySuffix = ".tmp"

    static func path(_ directory: String, firstLSN: UInt64) -> String {
        directory + "/" + SegmentFormat.fileName(firstLSN: firstLSN)
    }

    /// The segment files of a ledger directory, ordered by first LSN.
    static func list(_ directory: String, fileSystem: any FileSystem) throws -> [(firstLSN: UInt64, path: String)] {
        try fileSystem.listDirectory(directory)
            .compactMap { name in SegmentFormat.firstLSN(fileName: name).map { ($0, directory + "/" + name) } }
            .sorted { $0.firstLSN < $1.firstLSN }
    }

    /// The ledger's segments as two parts: the prefix `ledger-tool retain` evicted to the archive (its record, read
    /// after listing the directory, so a file retention removes meanwhile is already in it), and the local
    /// segment files past that prefix (a file the record also lists, left by a crash, belongs to the prefix).
    static func listPastEvicted(_ directory: String, fileSystem: any FileSystem) throws -> (
        evicted: EvictedSegments?, local: [(firstLSN: UInt64, path: String)]
    ) {
        let local = try list(directory, fileSystem: fileSystem)
        let evicted = try EvictedSegments.read(in: directory)
        return (evicted, local.filter { $0.firstLSN > evicted?.lastLSN ?? 0 })
    }

    /// How many segments the ledger has: those `ledger-tool retain` evicted to the archive, and the local files.
    static func countWithEvicted(_ directory: String, fileSystem: any FileSystem) throws -> Int {
        let segments = try listPastEvicted(directory, fileSystem: fileSystem)
        return (segments.evicted?.segments.count ?? 0) + segments.local.count
    }

    /// Creates a segment durably: temporary file, header, fsync, rename, directory fsync. A crash at any
    /// point leaves either no segment or a complete header (a leftover `.tmp` is removed on open).
    static func create(_ directory: String, header: SegmentHeader, fileSystem: any FileSystem) throws -> any LedgerFile
    {
        let finalPath = path(directory, firstLSN: header.firstLSN)
        let temporaryPath = finalPath + temporarySuffix
        if fileSystem.fileExists(temporaryPath) { try fileSystem.remove(temporaryPath) }
        let file = try fileSystem.open(temporaryPath, create: true)
        try file.write(header.encoded(), at: 0)
        try file.sync()
        try fileSystem.rename(temporaryPath, to: finalPath)
        try fileSystem.syncDirectory(directory)
        return try fileSystem.open(finalPath, create: false)
    }

    /// Removes temporary files a crash left behind; they never held acknowledged data.
    static func removeTemporaryFiles(_ directory: String, fileSystem: any FileSystem) throws -> [String] {
        let leftovers = try fileSystem.listDirectory(directory).filter {
            $0.hasSuffix(SegmentFormat.fileExtension + temporarySuffix)
        }
        for name in leftovers { try fileSystem.remove(directory + "/" + name) }
        return leftovers
    }

    /// The records of the frame described by `row`, read and checked from its segment file.
    static func readFrame(_ file: any LedgerFile, _ row: FrameRow) throws -> [Record] {
        let scanner = try SegmentScanner(file: file)
        scanner.seek(toFrameAt: row.byteOffset, firstLSN: row.firstLSN)
        guard case .frame(let frame) = try scanner.next() else {
            throw LedgerError(
                .corruption, "the index names a frame that the segment does not hold",
                [("path", file.path), ("offset", String(row.byteOffset)), ("lsn", String(row.firstLSN))])
        }
        return try frame.records(path: file.path)
    }
}
