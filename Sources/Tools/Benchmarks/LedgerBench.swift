import ArgumentParser
import Foundation
import Ledger
import LedgerTesting

/// Benchmarks of the ledger core, each next to a physical limit measured in the same run. Prints a Markdown table.
@main
struct LedgerBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-bench",
        abstract: "Benchmarks of Pulse Ledger, each next to a limit measured in the same run.",
        subcommands: [LedgerBench.self, LatencyBench.self, PipelineBench.self, MaintenanceBench.self],
        defaultSubcommand: LedgerBench.self)
}

struct LedgerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Measure the ledger core against raw write+fsync, the lz4 CLI and a 64 MiB recovery.")

    @Option(help: "Messages in the append and read benchmarks.") var records = 1_000_000
    @Option(help: "Scratch directory (removed afterwards).") var scratch = NSTemporaryDirectory() + "pulse-ledger-bench"
    @Option(help: "Size of the open segment for the recovery benchmark, in MiB.") var recoverySegmentMiB = 64

    func run() throws {
        try? FileManager.default.removeItem(atPath: scratch)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var generator = MessageGenerator(seed: 42)
        let messages = (0..<records).map { _ in generator.valid() }
        let jsonBytes = messages.reduce(0) { $0 + $1.count + 1 }
        var rows: [[String]] = []
        rows += try appendBenchmark(messages, jsonBytes: jsonBytes)
        rows += try sizeBenchmark(messages, jsonBytes: jsonBytes)
        rows += try readBenchmark()
        rows += try recoveryBenchmark(generator: &generator)
        print("| measure | Pulse Ledger | limit (same run) | ratio | goal |")
        print("|---|---|---|---|---|")
        for row in rows { print("| " + row.joined(separator: " | ") + " |") }
    }

    /// Rounds of the append with and without the frame read-back check, in turn (ABBA, so neither is always
    /// first): the check's cost is the median of the rounds' time ratios, measured in the same run (the machine's
    /// speed moves between runs, and other work on it moves within one).
    static let readBackRounds = 6

    /// Validated, classified, encoded, compressed, written and fsynced in groups of `Limits.groupCommitRecordsMax`.
    private func appendBenchmark(_ messages: [[UInt8]], jsonBytes: Int) throws -> [[String]] {
        var checked: [TimeInterval] = []
        var unchecked: [TimeInterval] = []
        for round in 0..<Self.readBackRounds {
            let checkedFirst = round % 4 == 0 || round % 4 == 3
            for checking in checkedFirst ? [true, false] : [false, true] {
                let directory = scratch + "/append-\(round)-\(checking)"
                let seconds = try timedAppend(messages, into: directory, checkingFrames: checking)
                if checking { checked.append(seconds) } else { unchecked.append(seconds) }
                if round == 0 && checking {
                    try FileManager.default.moveItem(atPath: directory, toPath: scratch + "/append")
                } else {
                    try FileManager.default.removeItem(atPath: directory)
                }
            }
        }
        let seconds = median(checked)
        let rawSeconds = try rawWriteAndSync(messages)
        let ledgerRate = Double(messages.count) / seconds
        let rawRate = Double(messages.count) / rawSeconds
        let costRatio = median(zip(checked, unchecked).map { $0 / $1 })
        let spread = zip(checked, unchecked).map { $0 / $1 }
        return [
            [
                "durable append (records/s, one core)", grouped(ledgerRate),
                grouped(rawRate) + " (raw write+fsync of the JSON)", ratio(ledgerRate / rawRate), "≥ 200,000 records/s",
            ],
            [
                "durable append (JSON MB/s)", decimal(Double(jsonBytes) / seconds / 1e6),
                decimal(Double(jsonBytes) / rawSeconds / 1e6), ratio(rawSeconds / seconds), "",
            ],
            [
                "frame read-back check (decode before write): cost", decimal(100 * (costRatio - 1), digits: 1) + " %",
                grouped(Double(messages.count) / median(unchecked))
                    + " records/s without it; median of \(Self.readBackRounds) paired rounds (time ratios \(decimal(spread.min()!, digits: 3))...\(decimal(spread.max()!, digits: 3)))",
                ratio(costRatio), "≤ 5 %",
            ],
        ]
    }

    private func timedAppend(_ messages: [[UInt8]], into directory: String, checkingFrames: Bool) throws -> TimeInterval
    {
        var options = LedgerOptions()
        options.checksFramesReadBack = checkingFrames
        let appender = LedgerAppender(writer: try LedgerWriter(directory: directory, options: options))
        return try timed {
            for (number, message) in messages.enumerated() {
                let source = SourceCoordinates(
                    topic: "transactions", partition: Int32(number % 3), offset: Int64(number / 3),
                    kafkaTimestampMilliseconds: 1_705_314_600_000)
                _ = try message.withUnsafeBytes {
                    try appender.append(
                        value: $0, source: source, ingestTimeMicroseconds: 1_705_314_700_000_000 + Int64(number))
                }
                if (number + 1) % Limits.groupCommitRecordsMax == 0 { try appender.commit() }
            }
            try appender.close()
        }
    }

    /// The same JSON bytes written in the same group sizes, one fsync per group: the disk's limit.
    private func rawWriteAndSync(_ messages: [[UInt8]]) throws -> TimeInterval {
        let path = scratch + "/raw.jsonl"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let started = Date()
        var batch = [UInt8]()
        for (number, message) in messages.enumerated() {
            batch += message
            batch.append(0x0A)
            if (number + 1) % Limits.groupCommitRecordsMax == 0 || number == messages.count - 1 {
                try handle.write(contentsOf: batch)
                try handle.synchronize()
                batch.removeAll(keepingCapacity: true)
            }
        }
        return Date().timeIntervalSince(started)
    }

    /// Segment bytes per record next to the lz4 CLI (default level) on the same JSON lines.
    private func sizeBenchmark(_ messages: [[UInt8]], jsonBytes: Int) throws -> [[String]] {
        let jsonPath = scratch + "/raw.jsonl"
        let lz4Path = scratch + "/raw.jsonl.lz4"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/lz4")
        process.arguments = ["-q", "-f", jsonPath, lz4Path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("lz4 CLI failed (is the lz4 package installed?)")
        }
        let lz4Bytes = try fileBytes(lz4Path)
        let stats = try LedgerMaintenance.stats(directory: scratch + "/append")
        let ledgerPerRecord = Double(stats.segmentBytes) / Double(messages.count)
        let lz4PerRecord = Double(lz4Bytes) / Double(messages.count)
        return [
            [
                "bytes on disk per record", decimal(ledgerPerRecord),
                decimal(lz4PerRecord)
                    + " (lz4 CLI on the JSON, \(decimal(Double(jsonBytes) / Double(lz4Bytes)))× smaller than JSON)",
                ratio(ledgerPerRecord / lz4PerRecord), "≤ 1.25× lz4",
            ]
        ]
    }

    private func readBenchmark() throws -> [[String]] {
        let reader = try LedgerReader(directory: scratch + "/append")
        let cursor = reader.cursor()
        let started = Date()
        var count = 0
        var checksum = 0
        while true {
            let batch = try cursor.next(maxRecords: 8192)
            if batch.isEmpty { break }
            count += batch.count
            for entry in batch { checksum &+= Int(entry.record.transaction?.amount.rawValue ?? 0) }
        }
        let seconds = Date().timeIntervalSince(started)
        let stats = try LedgerMaintenance.stats(directory: scratch + "/append")
        return [
            [
                "sequential read + decompress + decode (records/s)", grouped(Double(count) / seconds),
                "\(decimal(Double(stats.segmentBytes) / seconds / 1e6)) MB/s of segment (checksum \(checksum % 1000))",
                "", "≥ 1,000,000 records/s",
            ]
        ]
    }

    /// Reopen after a crash with one open segment of `recoverySegmentMiB`: with the index (normal restart) and
    /// without it (the whole segment re-indexed).
    private func recoveryBenchmark(generator: inout MessageGenerator) throws -> [[String]] {
        let directory = scratch + "/recovery"
        let options = LedgerOptions(segmentBytesTarget: Int.max)
        do {
            let appender = LedgerAppender(writer: try LedgerWriter(directory: directory, options: options))
            var offset: Int64 = 0
            while try appender.durableLSN == 0 || segmentBytes(directory) < recoverySegmentMiB << 20 {
                for _ in 0..<Limits.groupCommitRecordsMax {
                    let message = generator.valid()
                    _ = try message.withUnsafeBytes {
                        try appender.append(
                            value: $0, source: SourceCoordinates(topic: "transactions", partition: 0, offset: offset),
                            ingestTimeMicroseconds: 0)
                    }
                    offset += 1
                }
                try appender.commit()
            }
        }
        let withIndex = try timed { _ = try LedgerWriter(directory: directory, options: options) }
        let withoutIndex = try timed {
            _ = try LedgerMaintenance.rebuildIndex(directory: directory, options: options).durableLSN
        }
        let size = try segmentBytes(directory)
        return [
            [
                "recovery, \(size >> 20) MiB open segment, index present (s)", decimal(withIndex, digits: 3), "", "",
                "≤ 2 s",
            ],
            [
                "recovery, \(size >> 20) MiB open segment, index rebuilt (s)", decimal(withoutIndex, digits: 3), "", "",
                "≤ 2 s",
            ],
        ]
    }

    private func segmentBytes(_ directory: String) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".seg") }.reduce(0) {
            $0 + (try fileBytes(directory + "/" + $1))
        }
    }

    private func fileBytes(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber).intValue
    }

    private func timed(_ body: () throws -> Void) rethrows -> TimeInterval {
        let started = Date()
        try body()
        return Date().timeIntervalSince(started)
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func grouped(_ value: Double) -> String {
    let digits = String(Int(value.rounded()))
    var result = ""
    for (index, digit) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { result += "," }
        result.append(digit)
    }
    return result
}

func decimal(_ value: Double, digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }
func ratio(_ value: Double) -> String { String(format: "%.2f×", value) }
