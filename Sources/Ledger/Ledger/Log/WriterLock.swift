import OperatingErrors

/// The one writer of a ledger directory.
enum WriterLock {
    /// The writer lock: an exclusive `flock` on the ledger directory itself. Not on a file in it: a lock file
    /// could be removed (`rm LOCK` let a second writer in), and two processes creating it at once made one fail
    /// with an I/O error instead of `.locked`. The directory exists before anyone locks it and outlives them.
    static func take(_ directory: String, fileSystem: any FileSystem) throws -> any LedgerFile {
        guard fileSystem.fileExists(directory) else {
            throw LedgerError(.invalidArgument, "no such ledger directory", [("path", directory)])
        }
        let lock = try fileSystem.openForReading(directory)
        try lock.lockExclusively()
        return lock
    }
}
