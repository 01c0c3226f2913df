import Foundation
import OperatingErrors

/// A directory held open by descriptor: every file created, renamed or removed through it lands in the directory
/// that was opened, even if another one has since been renamed to its path. `ledger-tool retain` deletes through
/// it, so a restore renamed into the ledger's place while it runs is never touched.
final class PinnedDirectory {
    let path: String
    private let descriptor: Int32

    init(_ path: String) throws {
        self.path = path
        descriptor = try Syscall.check("open", path) { Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    }

    deinit { Glibc.close(descriptor) }

    /// Whether the path still names the directory held open.
    func isStillAtItsPath() throws -> Bool {
        var held = stat()
        if fstat(descriptor, &held) != 0 { throw Syscall.error(.io, "fstat", path, errno: errno) }
        let now = try FileIdentity(path: path)
        return now.device == UInt64(held.st_dev) && now.inode == UInt64(held.st_ino)
    }

    /// Opens `name` in the directory, for reading (or creating it, owner-only, with `create`).
    func open(_ name: String, create: Bool = false) throws -> PosixFile {
        let flags = create ? O_RDWR | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC
        let descriptor = try Syscall.check("openat", path + "/" + name) {
            openat(self.descriptor, name, flags, PosixFileSystem.fileMode)
        }
        return PosixFile(path: path + "/" + name, descriptor: descriptor)
    }

    /// Every byte of the file `name`.
    func contents(of name: String) throws -> [UInt8] {
        let file = try open(name)
        let size = Int(try file.size())
        var bytes = [UInt8](repeating: 0, count: size)
        let read = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        guard read == size else {
            throw LedgerError(.io, "a file ended early", [("path", file.path), ("expected_bytes", String(size))])
        }
        return bytes
    }

    /// Replaces `name` with `data` atomically and durably: a temporary file, fsync, rename, directory fsync.
    func replaceDurably(_ name: String, with data: Data) throws {
        let temporary = name + ".tmp"
        _ = unlinkat(descriptor, temporary, 0)
        let file = try open(temporary, create: true)
        try data.withUnsafeBytes { try file.write($0, at: 0) }
        try file.sync()
        _ = try Syscall.check("renameat", path + "/" + temporary, ("destination", name)) {
            renameat(descriptor, temporary, descriptor, name)
        }
        try sync()
    }

    /// Removes the file `name` and makes that durable.
    func remove(_ name: String) throws {
        _ = try Syscall.check("unlinkat", path + "/" + name) { unlinkat(descriptor, name, 0) }
        try sync()
    }

    /// Takes an exclusive `flock` on the file `name` (created if needed), held while the returned file lives;
    /// `.locked` with `holder` in the message when another process holds it.
    func lock(_ name: String, holder: String) throws -> PosixFile {
        let file = try open(name, create: true)
        if flock(file.descriptor, LOCK_EX | LOCK_NB) != 0 {
            let failure = errno
            guard failure == EWOULDBLOCK else { throw Syscall.error(.io, "flock", file.path, errno: failure) }
            throw LedgerError(.locked, "\(holder) holds this ledger's lock", [("path", file.path)])
        }
        return file
    }

    func exists(_ name: String) -> Bool { faccessat(descriptor, name, F_OK, 0) == 0 }

    private func sync() throws {
        if fsync(descriptor) != 0 { throw Syscall.error(.fsyncFailed, "fsync", path, errno: errno) }
    }
}
