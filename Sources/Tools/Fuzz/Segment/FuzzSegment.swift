// libFuzzer target for the segment, frame, footer and record decoders (see scripts/fuzz).
// No main.swift and no top-level code: with `--sanitize fuzzer` libFuzzer's own `main` drives this function.
import Ledger

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let decoded = FuzzEntryPoints.decodeSegmentBytes(UnsafeRawBufferPointer(start: data, count: size))
    precondition(decoded >= 0, "a count is never negative")
    return 0
}
