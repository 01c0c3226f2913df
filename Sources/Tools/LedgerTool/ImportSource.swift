import Crypto
import Foundation
import Ledger
import MessageSchema

/// Which source an import's lines come from, as their records' topic: `file:<name>@<digest>`, where the digest is
/// the first 128 bits of the SHA-256 of the whole content. Importing the same file again (same name and content,
/// from any directory) skips every line the ledger holds, so an interrupted import resumes; another file that
/// happens to have the same name is another source. (The name alone was the identity once: `d2/batch.jsonl` after
/// `d1/batch.jsonl` skipped every line of the second, and a second import from standard input skipped its first
/// lines.) The same content under another name is another source too: its lines are recorded again, as
/// duplicates of their orders, never skipped unseen.
///
/// Standard input is read once into a temporary file (owner-only), hashed, then imported from there.
struct ImportSource {
    /// Most UTF-8 bytes of the file name kept in the topic: with "file:", "@" and 32 hex digits, the topic stays
    /// within `Limits.topicBytesMax`.
    static let nameBytesMax = 200
    /// Bytes read at a time while hashing or spooling.
    static let chunkBytes = 1 << 20

    let topic: String
    /// The file to read the lines from (the spooled copy, for standard input).
    let path: String
    private let spooled: Bool

    init(file: String) throws {
        spooled = file == "-"
        path = spooled ? try Self.spool(FileHandle.standardInput) : file
        let name = spooled ? "-" : (file as NSString).lastPathComponent
        topic =
            "file:" + UTF8Text.prefix(Array(name.utf8), bytesMax: Self.nameBytesMax) + "@" + (try Self.digest(of: path))
    }

    /// Removes the spooled copy of standard input, if any.
    func finish() {
        if spooled { try? FileManager.default.removeItem(atPath: path) }
    }

    private static func digest(of path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ValidationErrorWithPath(path: path, message: "cannot open the file for reading")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: chunkBytes), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    private static func spool(_ input: FileHandle) throws -> String {
        let path = NSTemporaryDirectory() + "ledger-tool-import-\(getpid())-\(UUID().uuidString.prefix(8)).jsonl"
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let output = FileHandle(forWritingAtPath: path)
        else { throw ValidationErrorWithPath(path: path, message: "cannot create a temporary file for standard input") }
        defer { try? output.close() }
        while let chunk = try input.read(upToCount: chunkBytes), !chunk.isEmpty { try output.write(contentsOf: chunk) }
        return path
    }
}
