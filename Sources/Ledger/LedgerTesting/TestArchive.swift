import Foundation
import Ledger
import ObjectStore

/// Where a test's archive lives: a scratch directory (`file://`) or a fresh bucket of the S3-protocol server that
/// scripts/test starts (`s3://`, the moto server over TCP). Both are damaged and emptied from outside the archive
/// code, as a disk or a store would.
public enum ArchiveKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case file, s3
    public var description: String { rawValue }
}

public struct TestArchive {
    public let target: any ArchiveTarget
    public let url: String
    private let directory: ScratchDirectory?
    private let bucket: S3Bucket?

    public init(_ kind: ArchiveKind) throws {
        switch kind {
        case .file:
            let directory = ScratchDirectory()
            (self.directory, bucket, url) = (directory, nil, "file://" + directory.path)
            target = FileArchive(root: directory.path)
        case .s3:
            let (bucket, url) = try S3TestStore.freshBucket()
            (directory, self.bucket, self.url) = (nil, bucket, url)
            target = S3Archive(bucket: bucket)
        }
    }

    /// The environment a product needs to reach this archive.
    public func environment() throws -> [String: String]? { bucket == nil ? nil : try S3TestStore.environment() }

    /// The segment objects' names, sorted.
    public func segmentObjects(_ id: UUID) throws -> [String] {
        if let directory {
            return try FileManager.default.contentsOfDirectory(atPath: directory.file("\(id.text)/segments")).sorted()
        }
        return try bucket!.list(folder: "\(id.text)/segments/").objectBytes.keys.sorted()
    }

    public func flipBit(_ id: UUID, _ name: String, at offset: Int) throws {
        let key = "\(id.text)/segments/\(name)"
        let path = directory?.file(key)
        guard var data = try path.map({ FileManager.default.contents(atPath: $0) }) ?? bucket!.get(key) else {
            throw ObjectStoreError(.refused, "no archived object to damage", [("key", key)])
        }
        data[offset] ^= 0x10
        if let path { return try data.write(to: URL(fileURLWithPath: path)) }
        try bucket!.put(key, data)
    }

    public func remove(_ id: UUID, _ name: String) throws {
        let key = "\(id.text)/segments/\(name)"
        if let directory { return try FileManager.default.removeItem(atPath: directory.file(key)) }
        try bucket!.delete(key)
    }

    public func exists(_ id: UUID, _ name: String) throws -> Bool {
        try target.get("\(id.text)/segments/\(name)") != nil
    }
}
