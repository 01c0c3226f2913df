import Ledger

// libFuzzer target for the segment, frame, footer and record decoders (see scripts/fuzz).
// No main.swift and no top-level code: with `--sanitize fuzzer` libFuzzer's own `main` drives this function.
// One file: SwiftPM gives a single-file executable its main symbol (a second file would take it away).
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let decoded = SegmentDecoders.decodeSegmentBytes(UnsafeRawBufferPointer(start: data, count: size))
    precondition(decoded >= 0, "a count is never negative")
    return 0
}

/// Every decoder of the segment format, driven with any bytes. They are the Ledger module's internals, reached
/// through `package` access (the shipped library exposes no fuzz hook). Every function must return normally on
/// any input: a trap is a bug in a decoder.
enum SegmentDecoders {
    /// Feeds `bytes` to every decoder of the segment format: the record codec (as a decompressed payload, for a
    /// few expected counts), the frame header, footer and segment header decoders, and a `SegmentScanner` run
    /// over the bytes written to a temporary file (one per process), decoding every frame's records and, after
    /// damage, searching for a later self-consistent frame as recovery does.
    /// Returns a count of what decoded, so that the calls cannot be optimised away.
    static func decodeSegmentBytes(_ bytes: UnsafeRawBufferPointer) -> Int {
        var decoded = 0
        for expectedCount in [1, 2, 8, 64] {
            let full = RecordCodec.decodeAll(bytes, expectedCount: expectedCount)
            // The writer's check (which builds no record) must accept exactly what the decoder accepts.
            let checked = RecordCodec.check(bytes, expectedCount: expectedCount)
            switch full {
            case .success(let records):
                precondition(
                    checked == nil, "the writer's check refuses a payload the decoder reads: \(checked!.check)")
                decoded += records.count
            case .failure:
                precondition(checked != nil, "the writer's check accepts a payload the decoder refuses")
            }
        }
        if bytes.count >= SegmentFormat.frameHeaderBytes, case .success = FrameHeader.decode(bytes) { decoded += 1 }
        if case .success = SegmentFooter.decode(bytes) { decoded += 1 }
        // The scanner starts by decoding the same header and stops if it is invalid: skip the file I/O then.
        guard case .success = SegmentHeader.decode(bytes) else { return decoded }
        return decoded + 1 + scanAsSegmentFile(bytes)
    }

    /// The scratch file the scanner reads: one per process, so that parallel fuzzing jobs do not share it. In
    /// /dev/shm (memory) when it exists, since rewriting a file on a disk-backed /tmp costs block I/O on every
    /// input. On Linux its name is removed at once and the scanner opens it as /proc/self/fd/N, so that nothing
    /// is left behind, even when the fuzzer stops on a crash.
    private static let scratch: (descriptor: Int32, path: String) = {
        let path = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/pulse-ledger-fuzz-\(getpid()).seg"
        let descriptor = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        precondition(descriptor >= 0, "cannot create the fuzz scratch file \(path)")
        #if os(Linux)
            unlink(path)
            return (descriptor, "/proc/self/fd/\(descriptor)")
        #else
            return (descriptor, path)
        #endif
    }()

    /// Writes `bytes` to the scratch file and scans it to the end or the first damage; returns the records decoded.
    private static func scanAsSegmentFile(_ bytes: UnsafeRawBufferPointer) -> Int {
        precondition(ftruncate(scratch.descriptor, 0) == 0, "cannot truncate the fuzz scratch file")
        var written = 0
        while written < bytes.count {
            let result = pwrite(scratch.descriptor, bytes.baseAddress! + written, bytes.count - written, off_t(written))
            precondition(result > 0 || errno == EINTR, "cannot write the fuzz scratch file")
            if result > 0 { written += result }
        }

        // An invalid segment header throws from init; other errors are I/O errors, which the fuzzer cannot cause.
        guard let file = try? PosixFileSystem().openForReading(scratch.path),
            let scanner = try? SegmentScanner(file: file)
        else { return 0 }
        var decoded = 0
        while let step = try? scanner.next() {
            switch step {
            case .frame(let frame):
                if case .success(let records) = frame.decodeRecords() { decoded += records.count }
            case .sealed, .end, .damaged:
                if case .damaged(let offset, _) = step { _ = try? scanner.selfConsistentFrameExists(after: offset) }
                return decoded
            }
        }
        return decoded
    }
}
