import Foundation
import Prometheus

/// The standard process metrics (the names Prometheus's own client libraries use), read from /proc at each
/// scrape: resident and virtual memory, CPU seconds, open file descriptors and the start time. swift-prometheus
/// has no process collector; dashboards and the memory soak read these.
struct ProcessMetrics: Sendable {
    private let resident: Gauge
    private let virtual: Gauge
    private let cpuSeconds: Gauge
    private let openFiles: Gauge

    init(registry: PrometheusCollectorRegistry) {
        func gauge(_ name: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help))
        }
        resident = gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
        virtual = gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.")
        cpuSeconds = gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.")
        openFiles = gauge("process_open_fds", "Number of open file descriptors.")
        let startTime = gauge(
            "process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.")
        // The start time never changes: read once, not at every scrape.
        if let started = Self.statFields()?.field(22), let boot = Self.bootTime() {
            startTime.set(to: boot + started / Self.ticksPerSecond)
        }
    }

    /// Reads /proc/self once; a field that cannot be read keeps its last value.
    func sample() {
        if let fields = Self.statFields() {
            if let user = fields.field(14), let system = fields.field(15) {
                cpuSeconds.set(to: (user + system) / Self.ticksPerSecond)
            }
            if let size = fields.field(23) { virtual.set(to: size) }
            if let pages = fields.field(24) { resident.set(to: pages * Double(sysconf(Int32(_SC_PAGESIZE)))) }
        }
        if let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            openFiles.set(to: Double(descriptors.count))
        }
    }

    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// The fields of /proc/self/stat after "(comm) ", numbered from 3 (state) as in proc(5): utime 14, stime 15,
    /// starttime 22, vsize 23, rss 24.
    private struct StatFields {
        let fields: [Substring]
        func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
    }

    private static func statFields() -> StatFields? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let afterName = stat.range(of: ") ", options: .backwards)?.upperBound
        else { return nil }
        return StatFields(fields: stat[afterName...].split(separator: " "))
    }

    /// The boot time, from /proc/stat's `btime` line.
    private static func bootTime() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        return stat.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) }
    }
}
