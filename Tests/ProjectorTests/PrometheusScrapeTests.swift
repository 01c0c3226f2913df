import Foundation
import LedgerTesting
import Testing

@testable import Projector

extension Warehouse {
    /// A real Prometheus (Debian's `prometheus`, which scripts/test installs) scrapes a running ledger-ingest and a
    /// running ledger-projector on loopback, as prometheus/prometheus.yml does in the compose stack, and its query
    /// API returns both services' series: the exposition is one a real server ingests, not only one that looks right.
    @Suite struct PrometheusScrape {
        @Test func aRealPrometheusScrapesBothServices() throws {
            let prometheus = try Self.prometheusBinary()
            let scratch = ScratchDirectory()
            let broker = try DevBroker(partitions: 2)
            let ledger = scratch.file("ledger")
            let ingestPort = try freePort()
            let ingest = try ChildProcess(
                product: "ledger-ingest",
                ["--brokers", broker.bootstrap, "--wal", ledger, "--metrics-port", String(ingestPort)],
                logPath: scratch.file("ingest.log"))
            defer { _ = ingest.stop() }
            try TestPostgres.withSchema { schema in
                let (projector, projectorPort) = try startFollowingProjector(ledger, into: schema, scratch: scratch)
                defer { _ = projector.stop() }
                let port = try freePort()
                let server = try Self.startPrometheus(
                    prometheus, port: port, targets: ["ledger-ingest": ingestPort, "ledger-projector": projectorPort],
                    scratch: scratch)
                defer {
                    server.terminate()
                    server.waitUntilExit()
                }
                var jobs: [String: String] = [:]
                #expect(
                    eventually(seconds: 60) {
                        jobs = try Self.query(port: port, "up")
                        return jobs == ["ledger-ingest": "1", "ledger-projector": "1"]
                    }, "both targets up: \(jobs)")
                #expect(try Self.query(port: port, "ingest_up") == ["ledger-ingest": "1"])
                #expect(try Self.query(port: port, "count(pulse_ledger_build_info) by (job)").count == 2)
                // Process metrics, read from /proc at each scrape: both services use memory and hold files open.
                #expect(try Self.query(port: port, "process_resident_memory_bytes > 1e6").count == 2)
                #expect(try Self.query(port: port, "process_open_fds > 2").count == 2)
                #expect(try Self.query(port: port, "process_start_time_seconds > time() - 3600").count == 2)
                let free = try Self.query(port: port, "ingest_ledger_disk_free_bytes")
                #expect(free.count == 1 && (Double(free["ledger-ingest"] ?? "") ?? 0) > 0, "free disk: \(free)")
            }
        }

        private static func prometheusBinary() throws -> String {
            for directory in ["/usr/bin", "/usr/local/bin"]
            where FileManager.default.isExecutableFile(atPath: directory + "/prometheus") {
                return directory + "/prometheus"
            }
            throw TestFailure("prometheus is not installed (scripts/test installs Debian's prometheus package)")
        }

        private static func startPrometheus(
            _ binary: String, port: Int, targets: [String: Int], scratch: ScratchDirectory
        ) throws -> Process {
            let jobs = targets.sorted { $0.key < $1.key }.map { job, target in
                "  - job_name: \(job)\n    static_configs:\n      - targets: [\"127.0.0.1:\(target)\"]\n"
            }
            let configuration =
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n" + jobs.joined()
            try configuration.write(toFile: scratch.file("prometheus.yml"), atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "--config.file=" + scratch.file("prometheus.yml"), "--storage.tsdb.path=" + scratch.file("tsdb"),
                "--web.listen-address=127.0.0.1:\(port)",
            ]
            _ = FileManager.default.createFile(atPath: scratch.file("prometheus.log"), contents: nil)
            guard let log = FileHandle(forWritingAtPath: scratch.file("prometheus.log")) else {
                throw TestFailure("cannot write \(scratch.file("prometheus.log"))")
            }
            process.standardOutput = log
            process.standardError = log
            try process.run()
            return process
        }

        /// The instant vector `expression` evaluates to, as job → value (empty when Prometheus is not answering yet).
        private static func query(port: Int, _ expression: String) throws -> [String: String] {
            let encoded = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? expression
            guard let response = try? httpGet(port: port, path: "/api/v1/query?query=" + encoded),
                response.status == 200
            else { return [:] }
            struct Answer: Decodable {
                struct Data: Decodable {
                    struct Series: Decodable {
                        let metric: [String: String]
                        let value: [Value]
                    }
                    let result: [Series]
                }
                enum Value: Decodable {
                    case number(Double)
                    case text(String)
                    init(from decoder: any Decoder) throws {
                        let container = try decoder.singleValueContainer()
                        if let number = try? container.decode(Double.self) {
                            self = .number(number)
                        } else {
                            self = .text(try container.decode(String.self))
                        }
                    }
                }
                let data: Data
            }
            let answer = try JSONDecoder().decode(Answer.self, from: Data(response.body.utf8))
            var byJob: [String: String] = [:]
            for series in answer.data.result {
                guard case .text(let value) = series.value.last else { continue }
                byJob[series.metric["job"] ?? "?"] = value
            }
            return byJob
        }
    }
}
