import CLZ4

/// LZ4 block compression (liblz4's block API). The only file that imports CLZ4.
///
/// Frames use the block format, not LZ4's frame format: the ledger's own frame header already carries the
/// lengths and a CRC-32C, so LZ4's frame header, block checksums and content checksum would be redundant bytes.
enum LZ4Block {
    /// The worst-case compressed size of `rawByteCount` bytes (incompressible input grows slightly).
    static func compressedBytesBound(rawByteCount: Int) -> Int {
        precondition(rawByteCount >= 0 && rawByteCount <= Int(LZ4_MAX_INPUT_SIZE), "LZ4 input out of range")
        return Int(LZ4_compressBound(Int32(rawByteCount)))
    }

    /// Compresses `source` into `destination`, which must hold `compressedBytesBound` bytes; returns the bytes used.
    static func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int {
        precondition(destination.count >= compressedBytesBound(rawByteCount: source.count), "LZ4 destination too small")
        guard source.count > 0 else { return 0 }
        let written = LZ4_compress_default(
            source.baseAddress!.assumingMemoryBound(to: CChar.self),
            destination.baseAddress!.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(destination.count))
        // With a destination of compressBound bytes LZ4 cannot fail: a zero here is a bug, not a fault.
        precondition(written > 0, "LZ4_compress_default failed with a destination of compressBound bytes")
        return Int(written)
    }

    /// Decompresses `source` into `destination`; returns nil unless it decodes to exactly `destination.count` bytes.
    /// Safe on any input: LZ4_decompress_safe never reads or writes out of bounds.
    static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        if destination.count == 0 { return source.count == 0 ? 0 : nil }
        guard source.count > 0 else { return nil }
        let produced = LZ4_decompress_safe(
            source.baseAddress!.assumingMemoryBound(to: CChar.self),
            destination.baseAddress!.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(destination.count))
        return produced == Int32(destination.count) ? Int(produced) : nil
    }
}
