import Ledger
import OperatingErrors
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Which file operation fails, and how. Faults are counted per operation kind across all files whose path
/// ends with `pathSuffix`, from 1: `failingSyncNumber = 3` fails the third fsync and only that one, as Linux
/// does (a later fsync may "succeed" after the page cache dropped the dirty data: the writer must not care).
public struct FaultPlan: Sendable, Hashable {
    public enum WriteFault: String, Sendable, Hashable {
        /// The write fails with EIO and writes nothing.
        case ioError = "eio"
        /// The write fails with ENOSPC and writes nothing.
        case diskFull = "enospc"
        /// Half of the bytes reach the file, then the write fails with ENOSPC (a torn write).
        case shortWrite = "short"
    }

    public var failingSyncNumber: Int?
    public var failingWriteNumber: Int?
    public var writeFault: WriteFault = .ioError
    public var pathSuffix: String = ".seg"

    public init(
        failingSyncNumber: Int? = nil, failingWriteNumber: Int? = nil, writeFault: WriteFault = .ioError,
        pathSuffix: String = ".seg"
    ) {
        self.failingSyncNumber = failingSyncNumber
        self.failingWriteNumber = failingWriteNumber
        self.writeFault = writeFault
        self.pathSuffix = pathSuffix
    }

    /// Parses the operator/test form "fsync=N,write=M,write-fault=eio|enospc|short,suffix=.seg".
    public init(specification: String) throws {
        for item in specification.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw Self.invalid(specification, String(item)) }
            switch parts[0] {
            case "fsync": failingSyncNumber = try Self.positive(parts[1], specification)
            case "write": failingWriteNumber = try Self.positive(parts[1], specification)
            case "write-fault":
                guard let fault = WriteFault(rawValue: parts[1]) else { throw Self.invalid(specification, parts[1]) }
                writeFault = fault
            case "suffix": pathSuffix = parts[1]
            default: throw Self.invalid(specification, parts[0])
            }
        }
    }

    private static func positive(_ text: String, _ specification: String) throws -> Int {
        guard let value = Int(text), value >= 1 else { throw invalid(specification, text) }
        return value
    }

    private static func invalid(_ specification: String, _ part: String) -> LedgerError {
        LedgerError(
            .invalidArgument, "bad fault plan",
            [
                ("plan", specification), ("at", part),
                ("expected", "fsync=N,write=N,write-fault=eio|enospc|short,suffix=S"),
            ])
    }
}

/// Real files with injected faults: delegates to `PosixFileSystem` and fails the operations the plan names.
public final class FaultInjectingFileSystem: FileSystem {
    private struct Counters {
        var syncs = 0
        var writes = 0
    }

    public let plan: FaultPlan
    private let base = PosixFileSystem()
    private let counters = Mutex(Counters())

    public init(plan: FaultPlan) {
        self.plan = plan
    }

    public func open(_ path: String, create: Bool) throws -> any LedgerFile {
        try wrap(base.open(path, create: create))
    }

    public func openForReading(_ path: String) throws -> any LedgerFile { try base.openForReading(path) }
    public func rename(_ source: String, to destination: String) throws { try base.rename(source, to: destination) }
    public func remove(_ path: String) throws { try base.remove(path) }
    public func syncDirectory(_ path: String) throws { try base.syncDirectory(path) }
    public func makeDirectory(_ path: String) throws { try base.makeDirectory(path) }
    public func listDirectory(_ path: String) throws -> [String] { try base.listDirectory(path) }
    public func fileExists(_ path: String) -> Bool { base.fileExists(path) }

    private func wrap(_ file: any LedgerFile) -> any LedgerFile {
        file.path.hasSuffix(plan.pathSuffix) ? FaultyFile(file, owner: self) : file
    }

    /// Counts a sync and says whether it is the one to fail.
    fileprivate func syncShouldFail() -> Bool {
        counters.withLock { counters in
            counters.syncs += 1
            return counters.syncs == plan.failingSyncNumber
        }
    }

    fileprivate func writeShouldFail() -> Bool {
        counters.withLock { counters in
            counters.writes += 1
            return counters.writes == plan.failingWriteNumber
        }
    }
}

/// A file whose writes and fsyncs go through the owner's fault plan.
private final class FaultyFile: LedgerFile {
    private let file: any LedgerFile
    private let owner: FaultInjectingFileSystem

    init(_ file: any LedgerFile, owner: FaultInjectingFileSystem) {
        self.file = file
        self.owner = owner
    }

    var path: String { file.path }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        guard owner.writeShouldFail() else { return try file.write(bytes, at: offset) }
        switch owner.plan.writeFault {
        case .ioError:
            throw Syscall.error(.io, "pwrite (injected)", path, errno: EIO, [("offset", String(offset))])
        case .diskFull:
            throw Syscall.error(.io, "pwrite (injected)", path, errno: ENOSPC, [("offset", String(offset))])
        case .shortWrite:
            try file.write(UnsafeRawBufferPointer(rebasing: bytes[0..<bytes.count / 2]), at: offset)
            throw Syscall.error(
                .io, "pwrite (injected short write)", path, errno: ENOSPC,
                [("offset", String(offset + Int64(bytes.count / 2)))])
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        try file.read(into: buffer, at: offset)
    }

    func sync() throws {
        if owner.syncShouldFail() { throw Syscall.error(.fsyncFailed, "fsync (injected)", path, errno: EIO) }
        try file.sync()
    }

    func truncate(to length: Int64) throws { try file.truncate(to: length) }
    func size() throws -> Int64 { try file.size() }
    func lockExclusively() throws { try file.lockExclusively() }
}
