import Foundation
import Ledger
import Metrics

/// The free and total bytes of the file system that holds the ledger, as gauges: ingest stops when a write or an
/// fsync fails for want of space (issue 13: nothing watched it). Sampled at most once per
/// `IngestLimits.diskSpaceSampleSeconds`; `statvfs` costs microseconds, but there is no need for more.
struct DiskSpace {
    private let directory: String
    private let free = Gauge(label: "ingest_ledger_disk_free_bytes")
    private let size = Gauge(label: "ingest_ledger_disk_size_bytes")
    private var lastSample = DispatchTime(uptimeNanoseconds: 0)

    init(directory: String) {
        self.directory = directory
    }

    /// Records both gauges when the last sample is older than the interval. A failing `statvfs` (the directory
    /// gone) records nothing: the writer reports that loudly on its own.
    mutating func sampleIfDue() {
        let now = DispatchTime.now()
        guard
            now.uptimeNanoseconds - lastSample.uptimeNanoseconds >= IngestLimits.diskSpaceSampleSeconds * 1_000_000_000
        else { return }
        lastSample = now
        guard let space = FileSystemSpace(of: directory) else { return }
        free.record(space.freeBytes)
        size.record(space.sizeBytes)
    }
}
