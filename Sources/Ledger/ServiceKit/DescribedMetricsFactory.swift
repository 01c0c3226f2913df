import CoreMetrics
import Prometheus

/// swift-metrics backed by the Prometheus registry, with a `# HELP` line for every metric. swift-prometheus's own
/// factory registers every metric without help (`promtool check metrics` flags each one), and its registry stops
/// the process when a name comes back with other help, so the help must be given when a metric is first made:
/// here, from the service's catalogue (`IngestMetrics.help`, `ProjectorMetrics.help`).
struct DescribedMetricsFactory: MetricsFactory {
    /// Help of metrics a catalogue forgot: a test scrapes each service and fails on it.
    static let missingHelp = "(no help text: add this metric to its service's catalogue)"

    let registry: PrometheusCollectorRegistry
    let help: [String: String]

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: help[label] ?? Self.missingHelp)
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        precondition(!aggregate, "value histograms are not used; a Recorder here is a gauge")
        return registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        // The registry makes labelled histograms only through a deprecated call; no timer here has labels.
        precondition(dimensions.isEmpty, "duration histograms take no labels: \(label)")
        return registry.makeDurationHistogram(descriptor: descriptor(label), buckets: durationBuckets)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}
