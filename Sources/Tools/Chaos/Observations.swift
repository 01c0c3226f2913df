import Foundation

/// One ledger as `ledger-tool inspect segment --records -o json` shows it (its documented, stable schema), and
/// `ledger-tool verify`'s verdict.
struct LedgerContents {
    struct Record {
        var kind: String
        var offset: Offset
        var reason: String?
        var orderID: String?
    }

    var name: String
    var records: [Record] = []
    var verifyStatus: Int32 = -1
    var verifyOutput = ""
    /// The first problem `inspect` reported in a segment, if any.
    var inspectError: String?

    private struct Inspection: Decodable {
        struct Source: Decodable {
            var partition: Int
            var offset: Int
            var topic: String
        }
        struct Transaction: Decodable {
            var orderID: String
            enum CodingKeys: String, CodingKey { case orderID = "order_id" }
        }
        struct Entry: Decodable {
            var kind: String
            var source: Source
            var reason: String?
            var transaction: Transaction?
        }
        struct Problem: Decodable {
            var code: String?
            var check: String?
            var offset: Int?
        }
        var records: [Entry]?
        var error: Problem?
    }

    static func read(name: String, directory: String, ledgerTool: String) throws -> LedgerContents {
        var contents = LedgerContents(name: name)
        // Segments `ledger-tool retain` deleted are read from the archive by `inspect segment` itself.
        let segments = Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".seg") }
                + evictedSegments(directory)
        ).sorted()
        for segment in segments {
            let result = try Command.run(
                ledgerTool, ["inspect", "segment", "\(directory)/\(segment)", "--records", "-o", "json"])
            let inspection = try JSONDecoder().decode(Inspection.self, from: result.output)
            if let problem = inspection.error, contents.inspectError == nil {
                contents.inspectError =
                    "\(segment): \(problem.check ?? problem.code ?? "?") at byte \(problem.offset ?? -1)"
            }
            for entry in inspection.records ?? [] {
                contents.records.append(
                    Record(
                        kind: entry.kind,
                        offset: Offset(partition: entry.source.partition, offset: entry.source.offset),
                        reason: entry.reason, orderID: entry.transaction?.orderID.lowercased()))
            }
        }
        let verify = try Command.run(ledgerTool, ["verify", "--wal", directory])
        contents.verifyStatus = verify.status
        contents.verifyOutput = (verify.text + verify.errorOutput).split(separator: "\n").suffix(3).joined(
            separator: " / ")
        return contents
    }

    /// The files `evicted-segments.json` lists (none when nothing was evicted).
    private static func evictedSegments(_ directory: String) -> [String] {
        struct Record: Decodable {
            struct Segment: Decodable { var file: String }
            var segments: [Segment]
        }
        guard let data = FileManager.default.contents(atPath: directory + "/evicted-segments.json"),
            let record = try? JSONDecoder().decode(Record.self, from: data)
        else { return [] }
        return record.segments.map(\.file)
    }

    /// Per partition, the highest offset recorded, from `ledger-tool stats` (cheap: the index, not the segments).
    static func watermarks(directory: String, ledgerTool: String) -> [Int: Int] {
        guard FileManager.default.fileExists(atPath: directory + "/index.sqlite"),
            let result = try? Command.run(ledgerTool, ["stats", "--wal", directory], timeoutSeconds: 60),
            result.status == 0
        else { return [:] }
        var marks: [Int: Int] = [:]
        // "  watermark transactions[3] offset 394 at LSN 1149"
        for line in result.text.split(separator: "\n") where line.contains("watermark ") {
            let words = line.split(separator: " ")
            guard let topic = words.first(where: { $0.hasPrefix("transactions[") }),
                let index = words.firstIndex(of: "offset"), index + 1 < words.count,
                let partition = Int(topic.dropFirst("transactions[".count).dropLast()),
                let offset = Int(words[index + 1])
            else { continue }
            marks[partition] = offset
        }
        return marks
    }
}

/// The warehouse as PostgreSQL holds it after the run.
struct WarehouseContents {
    struct Row {
        var orderID: String
        var amountCents: Int
        var offset: Offset
    }

    struct Rejection {
        var kind: String
        var reason: String
    }

    /// Per UTC day: rows, sum of amount, rows the warehouse flagged as fraud.
    var days: [String: DayDigest] = [:]
    var rows: [Row] = []
    var rejected: [Offset: Rejection] = [:]

    static func read(_ postgres: PostgresControl) throws -> WarehouseContents {
        let schema = ChaosLimits.warehouseSchema
        var contents = WarehouseContents()
        for row in try postgres.query(
            """
            SELECT to_char(transaction_timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD'), count(*), sum(amount), count(*) FILTER (WHERE is_fraud_flagged)
            FROM \(schema).transactions GROUP BY 1
            """)
        {
            guard row.count == 4, let count = Int(row[1]), let cents = Cents.parse(row[2][...]), let fraud = Int(row[3])
            else {
                throw CampaignError("unexpected daily digest row \(row)")
            }
            contents.days[row[0]] = DayDigest(count: count, amountCents: cents, fraud: fraud)
        }
        for row in try postgres.query(
            "SELECT order_id, amount, source_partition, source_offset FROM \(schema).transactions")
        {
            guard row.count == 4, let cents = Cents.parse(row[1][...]), let partition = Int(row[2]),
                let offset = Int(row[3])
            else {
                throw CampaignError("unexpected transactions row \(row)")
            }
            contents.rows.append(
                Row(
                    orderID: row[0].lowercased(), amountCents: cents,
                    offset: Offset(partition: partition, offset: offset)))
        }
        for row in try postgres.query(
            "SELECT source_partition, source_offset, kind, reason FROM \(schema).rejected_messages")
        {
            guard row.count == 4, let partition = Int(row[0]), let offset = Int(row[1]) else {
                throw CampaignError("unexpected rejected_messages row \(row)")
            }
            contents.rejected[Offset(partition: partition, offset: offset)] = Rejection(kind: row[2], reason: row[3])
        }
        return contents
    }
}

/// The dead-letter topic as read back with kcat (not the project's client). Delivery there is at least once, so one
/// source offset may appear more than once.
struct DeadLetters {
    struct Letter {
        var source: Offset
        var reason: String
    }

    var letters: [Letter] = []
    /// Letters without parsable source headers.
    var malformed = 0
    /// Letters the broker's retention dropped before they were read (it always keeps a partition's last batch, so
    /// the first offset it still holds counts them).
    var dropped = 0

    static func read(_ topic: TopicContents) -> DeadLetters {
        var found = DeadLetters(dropped: topic.firstOffsets.values.reduce(0, +))
        for message in topic.messages.values {
            var headers: [Substring: Substring] = [:]
            for pair in String(decoding: message.headers, as: UTF8.self).split(separator: ",") {
                guard let equals = pair.firstIndex(of: "=") else { continue }
                headers[pair[..<equals]] = pair[pair.index(after: equals)...]
            }
            guard headers["source.topic"] == Substring(ChaosLimits.topic),
                let partition = headers["source.partition"].flatMap({ Int($0) }),
                let offset = headers["source.offset"].flatMap({ Int($0) }), let reason = headers["reason"]
            else {
                found.malformed += 1
                continue
            }
            found.letters.append(Letter(source: Offset(partition: partition, offset: offset), reason: String(reason)))
        }
        return found
    }
}
