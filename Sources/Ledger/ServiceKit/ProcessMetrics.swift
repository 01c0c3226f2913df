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
    private let startTime: Gauge

    init(registry: PrometheusCollectorRegistry) {
        func gauge(_ name: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help))
        }
        resident = gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
        virtual = gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.")
        cpuSeconds = gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.")
        openFiles = gauge("process_open_fds", "Number of open file descriptors.")
        startTime = gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.")
    }

    /// Reads /proc/self once; a field that cannot be read keeps its last value.
    func sample() {
        let pageBytes = Double(sysconf(Int32(_SC_PAGESIZE)))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let afterName = stat.range(of: ") ", options: .backwards)?.upperBound
        {
            // Fields after "(comm) ", numbered from 3 (state) as in proc(5): utime 14, stime 15, starttime 22,
            // vsize 23, rss 24.
            let fields = stat[afterName...].split(separator: " ")
            func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
            if let user = field(14), let system = field(15) { cpuSeconds.set(to: (user + system) / ticks) }
            if let size = field(23) { virtual.set(to: size) }
            if let pages = field(24) { resident.set(to: pages * pageBytes) }
            if let started = field(22), let boot = Self.bootTime() { startTime.set(to: boot + started / ticks) }
        }
        if let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            openFiles.set(to: Double(descriptors.count))
        }
    }

    /// The boot time, from /proc/stat's `btime` line.
    private static func bootTime() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        return stat.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) }
    }
}
