#if canImport(Glibc)
    import OperatingErrors
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The file operations the ledger performs, behind a protocol so that tests (and the fault campaign) can inject
/// write errors, short writes, fsync failures and a full disk into real files.
public protocol FileSystem: Sendable {
    /// Opens an existing file for reading and writing, or creates it when `create` is set.
    func open(_ path: String, create: Bool) throws -> any LedgerFile
    /// Opens a file for reading only.
    func openForReading(_ path: String) throws -> any LedgerFile
    func rename(_ source: String, to destination: String) throws
    func remove(_ path: String) throws
    /// fsync of a directory, which makes a file created or renamed in it durable.
    func syncDirectory(_ path: String) throws
    func makeDirectory(_ path: String) throws
    func listDirectory(_ path: String) throws -> [String]
    func fileExists(_ path: String) -> Bool
}

/// An open ledger file. Positional reads and writes only: there is no shared file offset to get wrong.
public protocol LedgerFile: AnyObject {
    var path: String { get }
    /// Writes all of `bytes` at `offset`, retrying short writes; throws on any error.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws
    /// Reads up to `buffer.count` bytes at `offset`; returns fewer only at the end of the file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int
    /// fsync. A failure is `LedgerError.Code.fsyncFailed` and is fatal to the writer.
    func sync() throws
    func truncate(to length: Int64) throws
    func size() throws -> Int64
    /// Takes an exclusive advisory lock (flock) without waiting; throws `.locked` if another process holds it.
    func lockExclusively() throws
}

extension LedgerFile {
    func write(_ bytes: [UInt8], at offset: Int64) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }

    /// Reads exactly `count` bytes at `offset`, or fewer if the file ends first.
    func read(count: Int, at offset: Int64) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = try buffer.withUnsafeMutableBytes { try read(into: $0, at: offset) }
        buffer.removeLast(count - got)
        return buffer
    }
}

/// The real file system, through POSIX calls. This is the one place that calls them: every errno becomes a
/// `LedgerError` naming the call, the path and the error.
public struct PosixFileSystem: FileSystem {
    public init() {}

    /// Files the ledger creates hold customer data: only their owner may read them (the services share a user).
    static let fileMode: mode_t = 0o600
    /// The same for directories the ledger creates (an existing directory keeps its mode).
    static let directoryMode: mode_t = 0o700

    public func open(_ path: String, create: Bool) throws -> any LedgerFile {
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0)
        return try PosixFile(
            path: path, descriptor: Syscall.check("open", path) { Glibc.open(path, flags, Self.fileMode) })
    }

    public func openForReading(_ path: String) throws -> any LedgerFile {
        try PosixFile(path: path, descriptor: Syscall.check("open", path) { Glibc.open(path, O_RDONLY | O_CLOEXEC) })
    }

    public func rename(_ source: String, to destination: String) throws {
        _ = try Syscall.check("rename", source, ("destination", destination)) { Glibc.rename(source, destination) }
    }

    public func remove(_ path: String) throws {
        _ = try Syscall.check("unlink", path) { unlink(path) }
    }

    public func syncDirectory(_ path: String) throws {
        let descriptor = try Syscall.check("open", path) { Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { Glibc.close(descriptor) }
        if fsync(descriptor) != 0 {
            throw Syscall.error(.fsyncFailed, "fsync", path, errno: errno)
        }
    }

    public func makeDirectory(_ path: String) throws {
        if mkdir(path, Self.directoryMode) != 0 && errno != EEXIST {
            throw Syscall.error(.io, "mkdir", path, errno: errno)
        }
    }

    public func listDirectory(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw Syscall.error(.io, "opendir", path, errno: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

/// A file descriptor with one owner: closed in `deinit`.
final class PosixFile: LedgerFile {
    let path: String
    let descriptor: Int32

    init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { Glibc.close(descriptor) }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        let written = try transferAll(bytes.count, "pwrite", at: offset) { done in
            pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
        }
        guard written == bytes.count else {
            throw LedgerError(
                .io, "pwrite wrote nothing", [("path", path), ("offset", String(offset + Int64(written)))])
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        try transferAll(buffer.count, "pread", at: offset) { done in
            pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
        }
    }

    /// Calls `transfer(done)` until `count` bytes have moved, since pread and pwrite may move fewer than asked;
    /// retries EINTR, stops early when a call moves nothing (end of file), and returns how many bytes moved.
    private func transferAll(_ count: Int, _ call: String, at offset: Int64, _ transfer: (Int) -> Int) throws -> Int {
        var done = 0
        while done < count {
            let moved = transfer(done)
            if moved < 0 {
                if errno == EINTR { continue }
                throw Syscall.error(.io, call, path, errno: errno, [("offset", String(offset + Int64(done)))])
            }
            if moved == 0 { break }
            done += moved
        }
        return done
    }

    func sync() throws {
        if fsync(descriptor) != 0 { throw Syscall.error(.fsyncFailed, "fsync", path, errno: errno) }
    }

    func truncate(to length: Int64) throws {
        if ftruncate(descriptor, off_t(length)) != 0 {
            throw Syscall.error(.io, "ftruncate", path, errno: errno, [("length", String(length))])
        }
    }

    func size() throws -> Int64 {
        var status = stat()
        if fstat(descriptor, &status) != 0 { throw Syscall.error(.io, "fstat", path, errno: errno) }
        return Int64(status.st_size)
    }

    func lockExclusively() throws {
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let failure = errno
            guard failure == EWOULDBLOCK else { throw Syscall.error(.io, "flock", path, errno: failure) }
            throw LedgerError(
                .locked,
                "another process writes this ledger (ledger-ingest, or ledger-tool import or rebuild index); stop it first",
                [("path", path), ("errno", String(failure))])
        }
    }
}

/// Turns a failed system call into a `LedgerError` with the call, the path and errno's text.
package enum Syscall {
    package static func check(_ call: String, _ path: String, _ extra: (String, String)? = nil, _ body: () -> Int32)
        throws -> Int32
    {
        while true {
            let result = body()
            if result >= 0 { return result }
            if errno == EINTR { continue }
            throw error(.io, call, path, errno: errno, extra.map { [$0] } ?? [])
        }
    }

    package static func error(
        _ code: LedgerError.Code, _ call: String, _ path: String, errno number: Int32, _ extra: [(String, String)] = []
    ) -> LedgerError {
        let text = String(cString: strerror(number))
        return LedgerError(code, "\(call) failed: \(text)", [("path", path), ("errno", String(number))] + extra)
    }
}

/// Which file a path names right now (device and inode): tells a file replaced by a rename from the one opened.
struct FileIdentity: Hashable {
    var device: UInt64
    var inode: UInt64

    init(path: String) throws {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw Syscall.error(.io, "stat", path, errno: errno)
        }
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
    }
}

/// The space of the file system that holds a directory (`statvfs`): what ingest's disk gauges and `ledger-tool
/// status` report. `freeBytes` is what an unprivileged writer may still use (`f_bavail`; `f_bfree` includes the
/// root reserve). Nil when `statvfs` fails (the directory gone).
public struct FileSystemSpace: Sendable {
    public var freeBytes: Int64
    public var sizeBytes: Int64

    public init?(of directory: String) {
        var stats = statvfs()
        guard statvfs(directory, &stats) == 0 else { return nil }
        freeBytes = Int64(stats.f_bavail) * Int64(stats.f_frsize)
        sizeBytes = Int64(stats.f_blocks) * Int64(stats.f_frsize)
    }
}
