import Foundation

/// Reads a file (or standard input) line by line in large chunks, without loading it whole. A line longer than
/// `maximumLineBytes` is cut there (the rest of it is skipped) and reported with its full length.
final class LineReader {
    private let handle: FileHandle
    private let maximumLineBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false
    private(set) var bytesRead: Int64 = 0
    /// The size of the file in bytes, nil for standard input.
    let totalBytes: Int64?

    static let chunkBytes = 1 << 20

    init(path: String, maximumLineBytes: Int) throws {
        self.maximumLineBytes = maximumLineBytes
        if path == "-" {
            handle = FileHandle.standardInput
            totalBytes = nil
        } else {
            guard let opened = FileHandle(forReadingAtPath: path) else {
                throw ValidationErrorWithPath(path: path, message: "cannot open the file for reading")
            }
            handle = opened
            totalBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
        }
    }

    /// The next line without its newline (and without a trailing "\r"), with its full length; nil at the end.
    func next() throws -> (bytes: ArraySlice<UInt8>, fullLength: Int)? {
        var skipped = 0
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                var end = newline
                if end > start && buffer[end - 1] == 0x0D { end -= 1 }
                let line = buffer[start..<min(end, start + maximumLineBytes)]
                let length = end - start + skipped
                start = newline + 1
                return (line, length)
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = buffer[start..<min(buffer.count, start + maximumLineBytes)]
                let length = buffer.count - start + skipped
                start = buffer.count
                return (line, length)
            }
            if buffer.count - start > maximumLineBytes {
                skipped += buffer.count - start - maximumLineBytes
                buffer.removeSubrange((start + maximumLineBytes)...)
            }
            try refill()
        }
    }

    private func refill() throws {
        buffer.removeSubrange(..<start)
        start = 0
        guard let chunk = try handle.read(upToCount: Self.chunkBytes), !chunk.isEmpty else {
            atEnd = true
            return
        }
        bytesRead += Int64(chunk.count)
        buffer.append(contentsOf: chunk)
    }
}

struct ValidationErrorWithPath: Error, CustomStringConvertible {
    var path: String
    var message: String
    var description: String { "\(message) (path=\(path))" }
}
