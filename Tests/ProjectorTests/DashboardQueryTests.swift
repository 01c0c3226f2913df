import Foundation
import Ledger
import LedgerTesting
import PostgresClient
import Testing

@testable import Projector

extension Warehouse {
    /// The Grafana provisioning (dashboards, alert rules, datasources) checked against the real services: every SQL
    /// panel, templating variable and alert query is run, with Grafana's macros expanded the way Grafana expands them,
    /// as the SELECT-only role against a warehouse the real `ledger-projector` filled from a generated ledger; every
    /// Prometheus metric the dashboards and alerts name is exported (projector: scraped from the running process;
    /// ingest: scraped from a running ledger-ingest fed by a dev-broker, and declared in Sources/Ingest); every
    /// datasource uid (and its type) is a provisioned one. Needs PostgreSQL (scripts/lib.sh start_postgres) and the
    /// products built with the same --scratch-path (`swift build --build-tests`).
    @Suite(.serialized) struct DashboardQueryTests {
        // MARK: What each query must return

        /// Columns each SQL query must return, in order, by "<dashboard uid>/<panel title>" (variables: "<uid>/$name";
        /// alerts: "alert/<rule uid>/<refId>"). A query missing here fails the test: add its expectation.
        static let expectedColumns: [String: [String]] = [
            "sales-pulse/$currency": ["currency"],
            "sales-pulse/Transactions (24 h)": ["transactions"],
            "sales-pulse/Revenue": ["currency", "revenue"],
            "sales-pulse/Tax collected": ["currency", "tax"],
            "sales-pulse/Fraud rate": ["fraud_rate"],
            "sales-pulse/Rejected messages": ["rejected"],
            "sales-pulse/Transactions per minute": ["time", "transactions"],
            "sales-pulse/Revenue by category ($currency)": ["product_category", "revenue"],
            "sales-pulse/Fraud rate per minute": ["time", "fraud_rate", "threshold"],
            "sales-pulse/Rejected messages by reason": ["reason", "messages"],
            "sales-pulse/Recent transactions": [
                "time", "order_id", "customer_id", "product_category", "amount", "currency", "tax_amount",
                "total_amount", "flagged", "batch_id",
            ],
            "sales-pulse/Flagged fraud transactions": [
                "time", "order_id", "customer_id", "product_category", "amount", "currency",
                "total_amount", "rule", "rules_version",
            ],
            "sales-pulse/Customer velocity (last hour)": [
                "time", "customer_id", "order_id", "amount", "currency", "product_category",
                "orders_in_window", "velocity_orders_min", "velocity_window", "rules_version",
            ],
            "alert/pulse-fraud-rate-high/A": ["fraud_rate"],
            "alert/pulse-fraud-rate-high/THRESHOLD": ["threshold"],
        ]

        // MARK: Reading the provisioning files

        static let root: String = {
            var path = URL(fileURLWithPath: #filePath)
            for _ in 0..<3 { path.deleteLastPathComponent() }
            return path.path
        }()

        static func read(_ relative: String) throws -> String {
            try String(contentsOfFile: root + "/" + relative, encoding: .utf8)
        }

        static func dashboards() throws -> [(file: String, json: [String: Any])] {
            let directory = root + "/grafana/dashboards"
            let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }
                .sorted()
            return try files.map { file in
                let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))
                guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                    throw TestFailure("\(file) is not a JSON object")
                }
                return (file, json)
            }
        }

        /// Panels, including those nested in rows.
        static func panels(_ dashboard: [String: Any]) -> [[String: Any]] {
            func walk(_ list: [[String: Any]]) -> [[String: Any]] {
                list.flatMap { [$0] + walk($0["panels"] as? [[String: Any]] ?? []) }
            }
            return walk(dashboard["panels"] as? [[String: Any]] ?? [])
        }

        /// A query to run: where it comes from, its SQL, its format, and the time window (nil: the test's range).
        struct SQLQuery {
            let key: String
            let sql: String
            let format: String
            let relativeSeconds: Int?
        }

        static func dashboardQueries() throws -> [SQLQuery] {
            var queries: [SQLQuery] = []
            for (file, dashboard) in try dashboards() {
                let uid = dashboard["uid"] as? String ?? file
                let variables = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
                for variable in variables where variable["type"] as? String == "query" {
                    let query =
                        variable["query"] as? String ?? (variable["query"] as? [String: Any])?["rawSql"] as? String
                        ?? ""
                    queries.append(
                        SQLQuery(
                            key: "\(uid)/$\(variable["name"] as? String ?? "?")", sql: query, format: "table",
                            relativeSeconds: nil))
                }
                for panel in panels(dashboard) {
                    for target in panel["targets"] as? [[String: Any]] ?? [] {
                        guard let sql = target["rawSql"] as? String else { continue }
                        queries.append(
                            SQLQuery(
                                key: "\(uid)/\(panel["title"] as? String ?? "?")", sql: sql,
                                format: target["format"] as? String ?? "time_series",
                                relativeSeconds: nil))
                    }
                }
            }
            return queries
        }

        /// The alert rules' data items, from alerts.yaml read line by line (no YAML library): uid, refId,
        /// relativeTimeRange.from, datasourceUid, format, rawSql block or expr.
        struct AlertItem {
            var rule = ""
            var refId = ""
            var from: Int?
            var datasourceUid = ""
            var format = "time_series"
            var rawSql: String?
            var expr: String?
        }

        static func alertItems() throws -> [AlertItem] {
            let lines = try read("grafana/provisioning/alerting/alerts.yaml").components(separatedBy: "\n")
            var items: [AlertItem] = []
            var rule = ""
            var index = 0
            func value(_ line: String, _ key: String) -> String? {
                let trimmed = line.trimmingCharacters(in: .whitespaces).replacingOccurrences(
                    of: "- ", with: "", options: .anchored)
                guard trimmed.hasPrefix(key + ":") else { return nil }
                return trimmed.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces)
            }
            while index < lines.count {
                let line = lines[index]
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("- uid:"), let uid = value(line, "uid") { rule = uid }
                // A data item starts with "- refId:" at the data list's level (the model repeats refId without "- ").
                if trimmed.hasPrefix("- refId:"), let refId = value(line, "refId") {
                    items.append(AlertItem(rule: rule, refId: refId))
                }
                if !items.isEmpty {
                    if let uid = value(line, "datasourceUid") { items[items.count - 1].datasourceUid = uid }
                    if let from = value(line, "from"), let seconds = Int(from) { items[items.count - 1].from = seconds }
                    if let format = value(line, "format") { items[items.count - 1].format = format }
                    if let expr = value(line, "expr") { items[items.count - 1].expr = expr }
                    if let sql = value(line, "rawSql") {
                        if sql.hasPrefix("|") {
                            let indent = line.prefix { $0 == " " }.count
                            var block: [String] = []
                            while index + 1 < lines.count {
                                let next = lines[index + 1]
                                let nextIndent = next.prefix { $0 == " " }.count
                                guard next.trimmingCharacters(in: .whitespaces).isEmpty || nextIndent > indent else {
                                    break
                                }
                                block.append(
                                    next.trimmingCharacters(in: .whitespaces).isEmpty
                                        ? "" : String(next.dropFirst(indent + 2)))
                                index += 1
                            }
                            items[items.count - 1].rawSql = block.joined(separator: "\n").trimmingCharacters(
                                in: .whitespacesAndNewlines)
                        } else {
                            items[items.count - 1].rawSql = sql
                        }
                    }
                }
                index += 1
            }
            return items
        }

        // MARK: Grafana's macros

        static func rfc3339(_ date: Date) -> String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            formatter.timeZone = TimeZone(identifier: "UTC")
            return formatter.string(from: date)
        }

        static func intervalSeconds(_ text: String) throws -> Int {
            let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
            guard let unit = text.last, let multiplier = units[unit], let count = Int(text.dropLast()) else {
                throw TestFailure("unknown interval \(text)")
            }
            return count * multiplier
        }

        /// Expands the macros the way Grafana's PostgreSQL datasource does; anything left that Grafana would
        /// substitute is an error.
        static func expand(_ sql: String, from: Date, to: Date) throws -> String {
            var text = sql
            func replace(_ pattern: String, _ make: ([String]) throws -> String) throws {
                let expression = try NSRegularExpression(pattern: pattern)
                while let match = expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) {
                    let groups = (1..<match.numberOfRanges).map { index in
                        Range(match.range(at: index), in: text).map {
                            String(text[$0]).trimmingCharacters(in: .whitespaces)
                        } ?? ""
                    }
                    text.replaceSubrange(Range(match.range, in: text)!, with: try make(groups))
                }
            }
            let fromText = "'\(rfc3339(from))'"
            let toText = "'\(rfc3339(to))'"
            try replace(#"\$__timeFilter\(([^()]+)\)"#) { "\($0[0]) BETWEEN \(fromText) AND \(toText)" }
            try replace(#"\$__timeGroupAlias\(([^,()]+),([^,()]+)\)"#) {
                "floor(extract(epoch from \($0[0]))/\(try intervalSeconds($0[1])))*\(try intervalSeconds($0[1])) AS \"time\""
            }
            try replace(#"\$__timeGroup\(([^,()]+),([^,()]+)\)"#) {
                "floor(extract(epoch from \($0[0]))/\(try intervalSeconds($0[1])))*\(try intervalSeconds($0[1]))"
            }
            try replace(#"\$__timeFrom\(\)"#) { _ in fromText }
            try replace(#"\$__timeTo\(\)"#) { _ in toText }
            try replace(#"\$\{currency:sqlstring\}"#) { _ in "'USD'" }
            let leftover = try NSRegularExpression(pattern: #"\$(\{[^}]*\}|__[A-Za-z]+|[A-Za-z_][A-Za-z0-9_]*)"#)
            if let match = leftover.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) {
                throw TestFailure(
                    "unexpanded Grafana variable or macro \(text[Range(match.range, in: text)!]) in:\n\(sql)")
            }
            return text
        }

        @Test func macrosExpandAsGrafanaExpandsThem() throws {
            let from = Date(timeIntervalSince1970: 1_705_276_800)
            let to = Date(timeIntervalSince1970: 1_705_363_200)
            #expect(
                try Self.expand("WHERE $__timeFilter(t)", from: from, to: to)
                    == "WHERE t BETWEEN '2024-01-15T00:00:00Z' AND '2024-01-16T00:00:00Z'")
            #expect(
                try Self.expand("SELECT $__timeGroupAlias(t, 1m), $__timeGroup(t, 5m)", from: from, to: to)
                    == #"SELECT floor(extract(epoch from t)/60)*60 AS "time", floor(extract(epoch from t)/300)*300"#)
            #expect(
                try Self.expand("$__timeFrom() $__timeTo() ${currency:sqlstring}", from: from, to: to)
                    == "'2024-01-15T00:00:00Z' '2024-01-16T00:00:00Z' 'USD'")
            #expect(throws: TestFailure.self) { try Self.expand("WHERE x = $currency", from: from, to: to) }
            #expect(throws: TestFailure.self) { try Self.expand("WHERE $__unixEpochFilter(x)", from: from, to: to) }
        }

        // MARK: Datasources

        @Test func everyDatasourceUidIsProvisioned() throws {
            var provisioned: [String: String] = [:]
            var uid: String?
            for line in try Self.read("grafana/provisioning/datasources/datasources.yaml").components(separatedBy: "\n")
            {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("- name:") { uid = nil }
                if trimmed.hasPrefix("uid:") { uid = trimmed.dropFirst(4).trimmingCharacters(in: .whitespaces) }
                if trimmed.hasPrefix("type:"), let current = uid {
                    provisioned[current] = trimmed.dropFirst(5).trimmingCharacters(in: .whitespaces)
                }
            }
            #expect(
                provisioned == ["pulse-warehouse": "grafana-postgresql-datasource", "pulse-prometheus": "prometheus"])

            var seen = 0
            func check(_ datasource: Any?, _ place: String) {
                guard let datasource = datasource as? [String: Any], let uid = datasource["uid"] as? String else {
                    return
                }
                if uid == "-- Grafana --" || uid == "grafana" { return }
                seen += 1
                #expect(provisioned[uid] != nil, "\(place): datasource uid \(uid) is not in datasources.yaml")
                if let type = datasource["type"] as? String, let expected = provisioned[uid] {
                    #expect(
                        type == expected, "\(place): datasource \(uid) has type \(type), provisioned as \(expected)")
                }
            }
            for (file, dashboard) in try Self.dashboards() {
                for annotation in (dashboard["annotations"] as? [String: Any])?["list"] as? [[String: Any]] ?? [] {
                    check(annotation["datasource"], "\(file) annotation")
                }
                for variable in (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? [] {
                    check(variable["datasource"], "\(file) variable \(variable["name"] ?? "?")")
                }
                for panel in Self.panels(dashboard) {
                    let title = "\(file) panel \(panel["title"] ?? "?")"
                    check(panel["datasource"], title)
                    for target in panel["targets"] as? [[String: Any]] ?? [] {
                        check(target["datasource"], title)
                        let uid =
                            (target["datasource"] as? [String: Any])?["uid"] as? String
                            ?? (panel["datasource"] as? [String: Any])?["uid"] as? String
                        if target["rawSql"] != nil {
                            #expect(uid == "pulse-warehouse", "\(title): SQL on \(uid ?? "no datasource")")
                        }
                        if target["expr"] != nil {
                            #expect(uid == "pulse-prometheus", "\(title): PromQL on \(uid ?? "no datasource")")
                        }
                    }
                }
            }
            for item in try Self.alertItems() {
                let place = "alert \(item.rule) \(item.refId)"
                #expect(
                    item.datasourceUid == "__expr__" || provisioned[item.datasourceUid] != nil,
                    "\(place): datasource uid \(item.datasourceUid) is not provisioned")
                if item.rawSql != nil {
                    #expect(item.datasourceUid == "pulse-warehouse", "\(place): SQL on \(item.datasourceUid)")
                }
                if item.expr != nil {
                    #expect(item.datasourceUid == "pulse-prometheus", "\(place): PromQL on \(item.datasourceUid)")
                }
                seen += 1
            }
            #expect(seen > 20, "found the datasources of the dashboards and alerts")
        }

        // MARK: Prometheus metric names

        /// Metric names in a PromQL expression: identifiers not followed by "(", outside label matchers, grouping
        /// clauses, ranges and strings, that are not PromQL keywords.
        static func metricNames(_ expr: String) throws -> Set<String> {
            var text = expr
            for pattern in [
                #""[^"]*""#, #"\{[^}]*\}"#, #"\[[^\]]*\]"#,
                #"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"#,
            ] {
                text = try NSRegularExpression(pattern: pattern).stringByReplacingMatches(
                    in: text, range: NSRange(text.startIndex..., in: text), withTemplate: " ")
            }
            let keywords: Set<String> = [
                "by", "without", "on", "ignoring", "or", "and", "unless", "offset", "bool", "group_left", "group_right",
            ]
            let identifier = try NSRegularExpression(
                pattern: #"(?<![A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*+)(?!\s*\()"#)
            var names: Set<String> = []
            for match in identifier.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let name = String(text[Range(match.range(at: 1), in: text)!])
                if !keywords.contains(name) { names.insert(name) }
            }
            return names
        }

        static func promQLExpressions() throws -> [(place: String, expr: String)] {
            var expressions: [(String, String)] = []
            for (file, dashboard) in try dashboards() {
                for panel in panels(dashboard) {
                    for target in panel["targets"] as? [[String: Any]] ?? [] {
                        if let expr = target["expr"] as? String {
                            expressions.append(("\(file) panel \(panel["title"] ?? "?")", expr))
                        }
                    }
                }
            }
            for item in try alertItems() {
                if let expr = item.expr { expressions.append(("alert \(item.rule) \(item.refId)", expr)) }
            }
            return expressions
        }

        @Test func promQLNamesAreFoundInExpressions() throws {
            #expect(
                try Self.metricNames(
                    #"histogram_quantile(0.99, sum by (le) (rate(projector_copy_seconds_bucket[5m])))"#)
                    == ["projector_copy_seconds_bucket"])
            #expect(try Self.metricNames(#"up{job=~"ledger-ingest|ledger-projector"}"#) == ["up"])
            #expect(try Self.metricNames("min(ingest_up) or vector(0)") == ["ingest_up"])
        }

        /// The metric labels declared in a source folder (swift-metrics `label: "…"`), excluding loggers.
        static func declaredMetrics(under folder: String) throws -> Set<String> {
            try metricLabels(
                under: folder,
                matching:
                    #"(Counter|Gauge|Timer|Recorder|Meter|FloatingPointCounter)\(\s*label: "([a-z_:][a-z0-9_:]*)""#)
        }

        /// The second capture group of `pattern` in every Swift file below `folder`.
        static func metricLabels(under folder: String, matching pattern: String) throws -> Set<String> {
            var names: Set<String> = []
            let expression = try NSRegularExpression(pattern: pattern)
            let enumerator = FileManager.default.enumerator(atPath: root + "/" + folder)
            while let file = enumerator?.nextObject() as? String {
                guard file.hasSuffix(".swift") else { continue }
                let text = try String(contentsOfFile: root + "/" + folder + "/" + file, encoding: .utf8)
                for match in expression.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    names.insert(String(text[Range(match.range(at: 2), in: text)!]))
                }
            }
            return names
        }

        /// Names a metric family exports: itself, and for histograms/summaries the suffixed series.
        static func family(_ name: String) -> String {
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
                return String(name.dropLast(suffix.count))
            }
            return name
        }

        /// The ingest metric names the dashboards and alerts use.
        static func ingestNamesUsed() throws -> [(place: String, name: String)] {
            try promQLExpressions().flatMap { place, expr in
                try metricNames(expr).filter { $0.hasPrefix("ingest_") }.sorted().map { (place, $0) }
            }
        }

        /// The metric labels Sources/Ingest declares with dimensions (created on first use: absent from /metrics
        /// until their event happens, e.g. a broker error).
        static func dimensionedMetrics(under folder: String) throws -> Set<String> {
            try metricLabels(
                under: folder,
                matching: #"(Counter|Gauge|Timer|Recorder)\(\s*label: "([a-z_:][a-z0-9_:]*)",\s*dimensions:"#
            )
        }

        /// A real ledger-ingest, consuming a dev-broker's topic that `ledger-tool produce` filled (with invalid and
        /// repeated messages): every ingest metric the dashboards and alerts name is in its /metrics, except metrics
        /// with dimensions whose event did not happen here (they must then at least be declared in Sources/Ingest).
        @Test func everyIngestMetricIsExportedByARunningIngest() throws {
            let scratch = ScratchDirectory()
            let broker = try DevBroker(partitions: 2)
            let produce = try ChildProcess(
                product: "ledger-tool",
                [
                    "produce", "--brokers", broker.bootstrap, "--count", "300", "--invalid-ratio", "0.1",
                    "--duplicate-ratio", "0.05", "--seed", "7",
                ],
                logPath: scratch.file("produce.log"))
            try #require(produce.waitForExit(timeoutSeconds: 60) == 0, "ledger-tool produce failed: \(produce.log)")
            let port = try freePort()
            let ingest = try ChildProcess(
                product: "ledger-ingest",
                [
                    "--brokers", broker.bootstrap, "--wal", scratch.file("ledger"), "--metrics-port", String(port),
                    // With an archive, so that the archive metrics (dashboard, alert) are exported too.
                    "--archive-to", "file://" + scratch.file("archive"), "--archive-interval-seconds", "1",
                ],
                logPath: scratch.file("ingest.log"))
            defer { _ = ingest.stop() }
            var body = ""
            let consumed = eventually(seconds: 30) {
                body = try httpGet(port: port, path: "/metrics").body
                return body.contains("ingest_rejected_total") && body.contains("ingest_consumer_lag_messages")
                    && body.contains("ingest_up 1") && body.contains("ingest_archive_lag_seconds")
            }
            #expect(
                consumed,
                "ledger-ingest did not consume the produced messages: \(ingest.log.suffix(2000))"
            )
            let exported = Set(
                body.components(separatedBy: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map {
                    String($0.prefix { $0 != "{" && $0 != " " })
                })
            let declared = try Self.declaredMetrics(under: "Sources/Ingest")
            let dimensioned = try Self.dimensionedMetrics(under: "Sources/Ingest")
            var notSeen: Set<String> = []
            for (place, name) in try Self.ingestNamesUsed() {
                if exported.contains(name) { continue }
                notSeen.insert(name)
                #expect(
                    dimensioned.contains(name) && declared.contains(name),
                    "\(place): \(name) is not in a running ledger-ingest's /metrics")
            }
            if !notSeen.isEmpty {
                print(
                    "ingest metrics not exercised here (declared with dimensions in Sources/Ingest): \(notSeen.sorted())"
                )
            }
        }

        // MARK: The warehouse and the running projector

        /// One ledger, projected by the real ledger-projector: ~300 messages stamped 2024-01-15 (the generator's
        /// default clock, ingest time = message time) and ~300 stamped now, each with a burst of orders by one
        /// customer so the velocity view has rows. Then every SQL query runs as the reader over both ranges, and
        /// /metrics of the running projector is compared with the dashboards' and alerts' metric names.
        @Test func everyQueryRunsAsTheReaderAndEveryMetricIsExported() throws {
            let scratch = ScratchDirectory()
            try TestPostgres.withSchema { schema in
                let writer = try LedgerWriter(directory: scratch.file("ledger"))
                let appender = LedgerAppender(writer: writer)
                var generator = MessageGenerator(seed: 20_240_115, invalidRatio: 0.06, duplicateRatio: 0.02)
                var offset: Int64 = 0
                func append(_ value: [UInt8]?, ingest: Int64) throws {
                    offset += 1
                    _ = try appender.append(
                        value: value, source: SourceCoordinates(topic: "transactions", partition: 0, offset: offset),
                        ingestTimeMicroseconds: ingest)
                }
                func burst(at start: Date) throws {
                    for index in 0..<6 {
                        let stamp = Self.rfc3339(start.addingTimeInterval(Double(index * 10)))
                        let json =
                            #"{"order_id": "\#(UUID().uuidString.lowercased())", "amount": 42.50, "currency": "USD", "timestamp": "\#(stamp)", "customer_id": "cust_velocity", "product_category": "books"}"#
                        try append(
                            Array(json.utf8), ingest: Int64(start.timeIntervalSince1970 * 1_000_000) + Int64(index))
                    }
                }
                func nowMicroseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }

                for _ in 0..<300 {
                    let message = generator.next()
                    try append(message.value, ingest: generator.clockMicroseconds)
                }
                try burst(at: Date(timeIntervalSince1970: 1_705_320_000))  // 2024-01-15T12:00:00Z
                for _ in 0..<300 {
                    // The step of at most 2 s keeps it in the past.
                    generator.clockMicroseconds = nowMicroseconds() - 2_000_000
                    let message = generator.next()
                    try append(message.value, ingest: nowMicroseconds())
                }
                try burst(at: Date().addingTimeInterval(-120))
                _ = try appender.commit()
                let durable = writer.durableLSN

                let (projector, port) = try startFollowingProjector(
                    scratch.file("ledger"), into: schema, scratch: scratch)
                defer { _ = projector.stop() }
                let owner = try TestPostgres.connect()
                let caughtUp = eventually(seconds: 30) { try owner.checkpoint(schema, writer.ledgerID) == durable }
                try #require(caughtUp, "ledger-projector did not catch up: \(projector.log.suffix(2000))")

                // The reader, as Grafana connects: its search_path names the warehouse schema (here the test's).
                let reader = try TestPostgres.connect(try TestPostgres.readerURL())
                #expect(try reader.text("SELECT current_user") == "grafana_reader")
                try reader.execute("SET search_path TO \"\(schema.name)\"")
                #expect(throws: ProjectorError.self, "the reader cannot write") {
                    try reader.query("INSERT INTO alert_thresholds (name, value, description) VALUES ('x', 1, 'x')")
                }

                let historic = (
                    from: Date(timeIntervalSince1970: 1_705_276_800), to: Date(timeIntervalSince1970: 1_705_363_200)
                )  // 2024-01-15, UTC
                let now = Date().addingTimeInterval(1)
                let last24h = (from: now.addingTimeInterval(-86_400), to: now)

                var queries = try Self.dashboardQueries()
                for item in try Self.alertItems() {
                    if let sql = item.rawSql {
                        queries.append(
                            SQLQuery(
                                key: "alert/\(item.rule)/\(item.refId)", sql: sql, format: item.format,
                                relativeSeconds: item.from))
                    }
                }
                #expect(queries.count >= 15, "found the dashboards' and alerts' SQL (\(queries.count))")
                for query in queries {
                    var ranges = [("2024-01-15", historic), ("last 24 h", last24h)]
                    if let seconds = query.relativeSeconds {
                        ranges.append(("alert's last \(seconds) s", (now.addingTimeInterval(-Double(seconds)), now)))
                    }
                    guard let expected = Self.expectedColumns[query.key] else {
                        Issue.record(
                            "no expected columns for \(query.key): add them to DashboardQueryTests.expectedColumns")
                        continue
                    }
                    for (name, range) in ranges {
                        let place = "\(query.key) over \(name)"
                        let rows: PostgresRows
                        do {
                            rows = try reader.query(try Self.expand(query.sql, from: range.from, to: range.to))
                        } catch {
                            Issue.record("\(place) failed as grafana_reader: \(error)")
                            continue
                        }
                        #expect(rows.count >= 1, "\(place) returned no rows")
                        #expect(rows.columns == expected, "\(place) returned columns \(rows.columns)")
                        if query.format == "time_series" {
                            #expect(rows.columns.contains("time"), "\(place): a time series needs a time column")
                            // Grafana needs a numeric or timestamp time and numeric values.
                            for row in rows.values {
                                for (column, value) in zip(rows.columns, row) where column != "time" {
                                    #expect(
                                        value == nil || Double(value!) != nil,
                                        "\(place): \(column) = \(value ?? "NULL") is not numeric")
                                }
                            }
                        }
                    }
                }

                // Every metric the dashboards and alerts name is exported.
                let metrics = try httpGet(port: port, path: "/metrics")
                #expect(metrics.status == 200)
                let exported = Set(
                    metrics.body.components(separatedBy: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map {
                        String($0.prefix { $0 != "{" && $0 != " " })
                    })
                let ingest = try Self.declaredMetrics(under: "Sources/Ingest")
                #expect(
                    ingest.contains("ingest_up") && ingest.count >= 10,
                    "read Sources/Ingest's metric labels: \(ingest.sorted())")
                var checked = 0
                for (place, expr) in try Self.promQLExpressions() {
                    for name in try Self.metricNames(expr) {
                        checked += 1
                        if name == "up" { continue }  // made by Prometheus for every scrape target
                        if name.hasPrefix("projector_") {
                            #expect(exported.contains(name), "\(place): \(name) is not in ledger-projector's /metrics")
                        } else if name.hasPrefix("ingest_") {
                            #expect(
                                ingest.contains(name) || ingest.contains(Self.family(name)),
                                "\(place): \(name) is not a metric Sources/Ingest declares")
                        } else {
                            Issue.record("\(place): \(name) is exported by neither ledger-ingest nor ledger-projector")
                        }
                    }
                }
                #expect(checked >= 30, "checked the metric names of the dashboards and alerts (\(checked))")
            }
        }
    }
}
