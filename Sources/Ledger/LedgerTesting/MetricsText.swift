/// Checks on a `/metrics` page (Prometheus text format), for the services' tests.
public enum MetricsText {
    /// The metric families of `page` that have no `# HELP` line, or one that says the help is missing, or whose
    /// help names no metric: what `promtool check metrics` flags.
    public static func familiesWithoutHelp(_ page: String) -> [String] {
        var help: [Substring: Substring] = [:]
        var types: [Substring] = []
        for line in page.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 3)
            guard parts.count >= 3, parts[0] == "#" else { continue }
            if parts[1] == "HELP" { help[parts[2]] = parts.count > 3 ? parts[3] : "" }
            if parts[1] == "TYPE" { types.append(parts[2]) }
        }
        return types.filter { name in
            guard let text = help[name] else { return true }
            return text.isEmpty || text.hasPrefix("(no help text")
        }.map(String.init)
    }
}
