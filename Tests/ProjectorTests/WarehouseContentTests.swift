import Foundation
import Ledger
import LedgerTesting
import MessageSchema
import PostgresClient
import Testing

@testable import Projector

extension Warehouse {
    /// What lands in the warehouse, value by value, on hand-made records.
    @Suite struct Content {
        /// Each edge amount and timestamp, read back as PostgreSQL prints it (UTC), with the partition it landed in.
        /// Expected values are written out by hand.
        @Test func edgeValuesLandExactlyInTheirDaysPartitions() throws {
            try withHandLedger { ledger, schema, scratch in
                let cases:
                    [(
                        cents: Int64, currency: String, time: Int64, offset: Int16, amount: String, tax: String,
                        total: String, flagged: Bool, utc: String, partition: String
                    )] = [
                        (
                            1, "USD", microseconds(2024, 1, 15, 10), 0, "0.01", "0.00", "0.01", false,
                            "2024-01-15 10:00:00+00", "transactions_p20240115"
                        ),
                        (
                            100, "USD", microseconds(2024, 2, 29, 23, 30, offsetMinutes: -300), -300, "1.00", "0.09",
                            "1.09", false, "2024-03-01 04:30:00+00", "transactions_p20240301"
                        ),
                        (
                            500, "USD", microseconds(2024, 2, 29, 0, 0, offsetMinutes: 840), 840, "5.00", "0.43",
                            "5.43", false, "2024-02-28 10:00:00+00", "transactions_p20240228"
                        ),
                        (
                            99_999, "GBP", microseconds(2024, 2, 29, 12), 0, "999.99", "85.00", "1084.99", false,
                            "2024-02-29 12:00:00+00", "transactions_p20240229"
                        ),
                        (
                            100_000, "USD", microseconds(2023, 12, 31, 23, 59, 59, micro: 999_999), 0, "1000.00",
                            "85.00", "1085.00", false, "2023-12-31 23:59:59.999999+00", "transactions_p20231231"
                        ),
                        (
                            100_001, "USD", microseconds(2024, 1, 1, 5, 30, offsetMinutes: 330), 330, "1000.01",
                            "85.00", "1085.01", true, "2024-01-01 00:00:00+00", "transactions_p20240101"
                        ),
                        (
                            999_999_999_999, "EUR", microseconds(2024, 3, 10, 2, 30, offsetMinutes: 330), 330,
                            "9999999999.99", "850000000.00", "10849999999.99", true, "2024-03-09 21:00:00+00",
                            "transactions_p20240309"
                        ),
                        (
                            10, "USD", microseconds(1999, 12, 31, 23, 59, 59), 0, "0.10", "0.01", "0.11", false,
                            "1999-12-31 23:59:59+00", "transactions_default"
                        ),
                        (
                            1_000, "USD", microseconds(2099, 1, 1), 0, "10.00", "0.85", "10.85", false,
                            "2099-01-01 00:00:00+00", "transactions_default"
                        ),
                        // 0001-01-01T00:00:00Z, written out: Foundation's calendar turns Julian before 1582.
                        (
                            6, "USD", -62_135_596_800_000_000, 0, "0.06", "0.01", "0.07", false,
                            "0001-01-01 00:00:00+00", "transactions_default"
                        ),
                    ]
                for (number, item) in cases.enumerated() {
                    try ledger.accept(
                        HandLedger.transaction(
                            number + 1, cents: item.cents, microseconds: item.time, offsetMinutes: item.offset,
                            currency: item.currency))
                }
                try ledger.close()
                try projectInProcess([ledger.directory], into: schema)
                let connection = try TestPostgres.connect()
                let rows = try connection.query(
                    """
                    SELECT lsn, amount::text, tax_amount::text, total_amount::text, is_fraud_flagged, transaction_timestamp::text,
                           (SELECT relname FROM pg_class WHERE oid = t.tableoid) AS partition, currency
                    FROM \(schema.transactions) t ORDER BY lsn
                    """)
                #expect(rows.count == cases.count)
                for (index, item) in cases.enumerated() where index < rows.count {
                    #expect(
                        rows.values[index] == [
                            String(index + 1), item.amount, item.tax, item.total, item.flagged ? "t" : "f", item.utc,
                            item.partition, item.currency,
                        ],
                        "case \(index + 1)")
                    #expect(
                        Decimal(string: item.tax) == Oracle.tax(Decimal(string: item.amount)!),
                        "the hand-written tax agrees with decimal arithmetic")
                }
                // Partitions exist ahead of need, from today on.
                let today = UTCCalendar.Day(microsecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1_000_000))
                let ahead = UTCCalendar.Day(
                    daysSinceEpoch: today.daysSinceEpoch + Int64(ProjectorLimits.partitionDaysAhead))
                for day in [today, ahead] {
                    #expect(
                        try connection.integer(
                            "SELECT count(*) FROM pg_class WHERE relnamespace = $1::regnamespace AND relname = $2",
                            [schema.name, "transactions_p" + day.compact]) == 1, "partition for \(day)")
                }
            }
        }

        /// Rejected messages, conflicts, gaps and duplicates: each where the dashboards look for it.
        @Test func rejectionsConflictsGapsAndDuplicatesAreAccountedFor() throws {
            try withHandLedger { ledger, schema, scratch in
                let original = HandLedger.transaction(1, cents: 2_500, microseconds: microseconds(2024, 6, 1, 9))
                let originalLSN = try ledger.accept(original)
                try ledger.append(.duplicate(original, originalLSN: originalLSN))
                var changed = original
                changed.customerID = "cust_other"
                try ledger.append(.conflict(changed, originalLSN: originalLSN))
                try ledger.append(
                    .rejected(
                        RejectedMessage(
                            rejection: Rejection(.amountTooPrecise, field: "amount"),
                            rawBytes: Array(#"{"amount": 1.234}"#.utf8), originalByteCount: 17)))
                try ledger.append(
                    .rejected(RejectedMessage(rejection: Rejection(.valueNull), rawBytes: nil, originalByteCount: 0)))
                try ledger.gap(40)
                try ledger.close()
                try projectInProcess([ledger.directory], into: schema)
                let connection = try TestPostgres.connect()
                #expect(
                    try connection.integer("SELECT count(*) FROM \(schema.transactions)") == 1,
                    "a duplicate is not a row")
                let rejected = try connection.query(
                    "SELECT source_offset, kind, reason, field, raw_text, order_id::text, original_lsn FROM \(schema.rejectedMessages) ORDER BY source_offset"
                )
                #expect(rejected.count == 3)
                #expect(
                    rejected.values.first.map { Array($0.prefix(4)) + [$0[5], $0[6]] } == [
                        "3", "conflict", "conflicting_duplicate", "order_id", original.orderID.uuidString.lowercased(),
                        "1",
                    ])
                #expect(rejected.values.first?[4]?.contains("cust_other") == true)
                #expect(
                    rejected.values.dropFirst().map { Array($0.prefix(5)) } == [
                        ["4", "rejected", "amount_too_precise", "amount", #"{"amount": 1.234}"#],
                        ["5", "rejected", "value_null", "", nil],
                    ])
                #expect(
                    try connection.query("SELECT first_offset, last_offset FROM \(schema.ledgerGaps)").values == [
                        ["6", "45"]
                    ])
                #expect(try connection.integer("SELECT sum(messages) FROM \(schema.table("rejected_per_minute"))") == 3)
                #expect(try connection.checkpoint(schema, ledger.ledgerID) == 6)
            }
        }

        /// The fraud views on data built so that every boundary is crossed: the velocity window's open end, the
        /// alert threshold reached but not exceeded, amounts at and just above 1000.00. Expected values are computed
        /// here by brute force from the same list of transactions.
        @Test func fraudViewsOnHandMadeData() throws {
            let scratch = ScratchDirectory()
            try TestPostgres.withSchema { schema in
                var items: [(customer: String, time: Int64, cents: Int64, category: String, currency: String)] = []
                func at(_ hour: Int, _ minute: Int, _ second: Int = 0) -> Int64 {
                    microseconds(2024, 5, 1, hour, minute, second)
                }
                for (minute, second) in [(0, 0), (2, 0), (4, 0), (6, 0), (8, 0), (9, 59)] {  // 6 orders in 10 minutes
                    items.append(("cust_fast", at(10, minute, second), minute == 4 ? 150_000 : 1_000, "toys", "USD"))
                }
                // The 11:00 order is exactly 10 minutes before 11:10: outside the window.
                for minute in [0, 1, 2, 3, 10] {
                    items.append(("cust_edge", at(11, minute), minute == 1 ? 100_000 : 2_000, "books", "USD"))
                }
                for index in 0..<6 {
                    items.append(("cust_slow", at(13 + index / 4, index % 4 * 15), 3_000, "books", "USD"))
                }  // every 15 minutes
                for second in [10, 20, 30] {
                    items.append(("cust_o\(second)", at(10, 4, second), 2_000, "toys", "USD"))
                }
                items.append(("cust_big", at(12, 15, 1), 100_001, "electronics", "USD"))
                for second in 2..<11 { items.append(("cust_p\(second)", at(12, 15, second), 500, "grocery", "USD")) }
                items.append(("cust_eu", at(12, 30, 5), 250_000, "electronics", "EUR"))

                let ledger = try HandLedger(directory: scratch.file("ledger"))
                for (number, item) in items.enumerated() {
                    try ledger.accept(
                        HandLedger.transaction(
                            number + 1, cents: item.cents, microseconds: item.time, customer: item.customer,
                            category: item.category, currency: item.currency))
                }
                try ledger.close()
                try projectInProcess([ledger.directory], into: schema)
                let connection = try TestPostgres.connect()

                // Flagged: amount > 1000.00, by rule 1.
                let flagged = try connection.query(
                    "SELECT customer_id, amount::text, rules_version, rule FROM \(schema.table("flagged_transactions")) ORDER BY transaction_timestamp"
                )
                let expectedFlagged = items.filter { $0.cents > 100_000 }.sorted { $0.time < $1.time }.map {
                    [$0.customer, Cents(rawValue: $0.cents).description, "1"]
                }
                #expect(flagged.values.map { Array($0.prefix(3)).compactMap { $0 } } == expectedFlagged)
                #expect(flagged.values.allSatisfy { $0[3] == "amount above 1000.00 (the original ETL rule)" })

                // Velocity: at least 5 orders of one customer in the 10 minutes ending at an order (start excluded).
                let window: Int64 = 10 * 60 * 1_000_000
                let expectedVelocity = items.compactMap { item -> String? in
                    let count = items.filter {
                        $0.customer == item.customer && $0.time > item.time - window && $0.time <= item.time
                    }.count
                    return count >= 5
                        ? "\(item.customer) \(RFC3339.format(microsecondsSinceEpoch: item.time)) \(count)" : nil
                }.sorted()
                let velocity = try connection.query(
                    """
                    SELECT customer_id, transaction_timestamp, orders_in_window, rules_version FROM \(schema.table("customer_velocity")) ORDER BY 1, 2
                    """)
                let formatted = (0..<velocity.count).map { row in
                    "\(velocity.value(row, "customer_id")!) \(RFC3339.format(microsecondsSinceEpoch: microsecondsFromPostgres(velocity.value(row, "transaction_timestamp")!))) \(velocity.value(row, "orders_in_window")!)"
                }
                #expect(formatted == expectedVelocity)
                #expect(expectedVelocity.count == 2, "the fixture crosses the rule's boundaries as intended")
                #expect(velocity.values.allSatisfy { $0[3] == "2" })

                // Fraud rate per minute against the 0.10 threshold: 1 of 4 is above, 1 of 10 is not (not above).
                let rates = try connection.query(
                    "SELECT minute, transactions, flagged, fraud_rate::text, above_threshold FROM \(schema.table("fraud_rate_per_minute"))"
                )
                var expectedRates: [String: (Int, Int)] = [:]
                for item in items {
                    let minute = String(
                        RFC3339.format(microsecondsSinceEpoch: item.time - item.time % 60_000_000).prefix(16))
                    expectedRates[minute, default: (0, 0)].0 += 1
                    expectedRates[minute, default: (0, 0)].1 += item.cents > 100_000 ? 1 : 0
                }
                #expect(rates.count == expectedRates.count)
                for row in 0..<rates.count {
                    let minute = String(
                        RFC3339.format(microsecondsSinceEpoch: microsecondsFromPostgres(rates.value(row, "minute")!))
                            .prefix(16))
                    let (count, flaggedCount) = try #require(expectedRates[minute], "minute \(minute)")
                    var exact = Decimal(flaggedCount) / Decimal(count)
                    var rate = Decimal()
                    NSDecimalRound(&rate, &exact, 4, .plain)
                    #expect(
                        rates.value(row, "transactions") == String(count)
                            && rates.value(row, "flagged") == String(flaggedCount), "minute \(minute)")
                    #expect(Decimal(string: rates.value(row, "fraud_rate")!) == rate, "minute \(minute)")
                    #expect(
                        rates.value(row, "above_threshold") == (exact > Decimal(string: "0.10")! ? "t" : "f"),
                        "minute \(minute)")
                }
                #expect(
                    try connection.text(
                        "SELECT above_threshold FROM \(schema.table("fraud_rate_per_minute")) WHERE minute = '2024-05-01 10:04:00+00'"
                    ) == "t")
                #expect(
                    try connection.text(
                        "SELECT above_threshold FROM \(schema.table("fraud_rate_per_minute")) WHERE minute = '2024-05-01 12:15:00+00'"
                    ) == "f")

                // Revenue, tax and fraud by category and currency.
                var expectedCategories: [String: (count: Int, revenue: Decimal, tax: Decimal, flagged: Int)] = [:]
                for item in items {
                    let amount = Decimal(item.cents) / 100
                    let key = "\(item.category)/\(item.currency)"
                    let current = expectedCategories[key] ?? (0, 0, 0, 0)
                    expectedCategories[key] = (
                        current.count + 1, current.revenue + amount, current.tax + Oracle.tax(amount),
                        current.flagged + (item.cents > 100_000 ? 1 : 0)
                    )
                }
                let categories = try connection.query(
                    "SELECT product_category, currency, transactions, revenue::text, tax::text, flagged FROM \(schema.table("revenue_by_category"))"
                )
                #expect(categories.count == expectedCategories.count)
                for row in 0..<categories.count {
                    let key = "\(categories.value(row, "product_category")!)/\(categories.value(row, "currency")!)"
                    let expected = try #require(expectedCategories[key])
                    #expect(
                        Int(categories.value(row, "transactions")!) == expected.count
                            && Int(categories.value(row, "flagged")!) == expected.flagged, "\(key)")
                    #expect(
                        Decimal(string: categories.value(row, "revenue")!) == expected.revenue
                            && Decimal(string: categories.value(row, "tax")!) == expected.tax, "\(key)")
                }
            }
        }

        /// A record that cannot be projected (written before the writer enforced `RecordBounds`) stops the real
        /// binary with its ledger id, LSN and reason, after committing what precedes it; with --quarantine it is
        /// set aside and projection goes on.
        @Test func anUnprojectableRecordStopsTheProjectorUnlessQuarantined() throws {
            let scratch = ScratchDirectory()
            try TestPostgres.withSchema { schema in
                let ledger = try HandLedger(directory: scratch.file("ledger"), outOfBounds: true)
                for number in 1...10 {
                    try ledger.accept(
                        HandLedger.transaction(number, cents: 1_000, microseconds: microseconds(2024, 7, 1, 8, number)))
                }
                try ledger.accept(
                    HandLedger.transaction(
                        11, cents: 1_000, microseconds: microseconds(2024, 7, 1, 9), customer: "cust\u{0}11"))
                for number in 12...16 {
                    try ledger.accept(
                        HandLedger.transaction(number, cents: 1_000, microseconds: microseconds(2024, 7, 1, 10, number))
                    )
                }
                try ledger.close()
                let arguments = [
                    "--wal", ledger.directory, "--postgres", try TestPostgres.url(), "--schema", schema.name,
                    "--exit-when-caught-up",
                ]
                let connection = try TestPostgres.connect()
                for attempt in 1...2 {
                    let stopped = try startProjector(arguments, logPath: scratch.file("stop-\(attempt)"))
                    #expect(stopped.waitForExit(timeoutSeconds: 30, killingOnTimeout: true) == 1)
                    let message = stopped.log
                    for fact in [
                        "unprojectable_record", "ledger.lsn=11", "ledger.id=\(ledger.ledgerID.uuidString.lowercased())",
                        "reason=nul_in_text", "--quarantine",
                    ] {
                        #expect(message.contains(fact), "stderr names \(fact): \(message.suffix(600))")
                    }
                    #expect(try connection.checkpoint(schema, ledger.ledgerID) == 10)
                    #expect(try connection.integer("SELECT count(*) FROM \(schema.transactions)") == 10)
                }
                let quarantining = try startProjector(arguments + ["--quarantine"], logPath: scratch.file("quarantine"))
                #expect(
                    quarantining.waitForExit(timeoutSeconds: 30, killingOnTimeout: true) == 0,
                    "\(quarantining.log.suffix(600))")
                #expect(try connection.checkpoint(schema, ledger.ledgerID) == 16)
                #expect(try connection.integer("SELECT count(*) FROM \(schema.transactions)") == 15)
                #expect(
                    try connection.query("SELECT lsn, kind, left(reason, 11) FROM \(schema.quarantinedRecords)").values
                        == [["11", "accepted", "nul_in_text"]])
            }
        }
    }
}

extension Warehouse {
    @Suite struct Secrets {
        /// Issue 11: a regex redacted passwords, and leaked those it did not expect. libpq's own parser decides
        /// what is a password; the secret never shows, the rest does.
        @Test(arguments: [
            ("postgres://pulse:s3cr3t@db.example:5433/pulse", "s3cr3t", "host=db.example"),
            ("postgres://pulse:xq@zw@db.example/pulse", "xq@zw", "unencoded"),
            ("postgres://pulse:xq%40zw@db.example/pulse", "xq%40zw", "host=db.example"),
            ("host=db.example password='xq zw vy' dbname=pulse", "xq zw vy", "host=db.example"),
            ("host=db.example password=hunter2 user=pulse", "hunter2", "user=pulse"),
            ("postgresql://db.example/pulse?password=hunter2&sslmode=require", "hunter2", "sslmode=require"),
            ("host=db.example sslpassword=keypass dbname=pulse", "keypass", "dbname=pulse"),
            ("host=db.example password='unterminated", "unterminated", "unparseable"),
        ])
        func passwordsNeverLeakFromConnectionStrings(connectionString: String, secret: String, shown: String) {
            // No piece of the secret may show: the regex once left the part after an '@' or a space.
            let pieces = secret.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
            let redacted = ConnectionString.redacted(connectionString)
            #expect(pieces.allSatisfy { !redacted.contains($0) }, "\(redacted)")
            #expect(redacted.contains(shown), "\(redacted)")
            let message = ConnectionString.redacted(
                message: "missing \"=\" after \"\(secret)\" in connection info string", about: connectionString)
            #expect(pieces.allSatisfy { !message.contains($0) }, "\(message)")
        }

        /// A wrong password: the projector keeps retrying (an operator may fix the role), reports unhealthy, and
        /// never writes the password anywhere, not in its configuration log nor in libpq's error.
        @Test func passwordsAreNeverLogged() throws {
            let scratch = ScratchDirectory()
            let url = try TestPostgres.url()
            let secret = "not-the-password-\(UUID().uuidString.prefix(8))"
            let wrong = url.replacingOccurrences(
                of: #"://([^:]+):[^@]*@"#, with: "://$1:\(secret)@", options: .regularExpression)
            try #require(wrong != url && wrong.contains(secret))
            let ledger = try HandLedger(directory: scratch.file("ledger"))
            try ledger.close()
            let projector = try startProjector(
                ["--wal", ledger.directory, "--postgres", wrong, "--log-level", "debug"],
                logPath: scratch.file("stderr"))
            Thread.sleep(forTimeInterval: 1.5)
            #expect(projector.stop() == 0)
            let log = projector.log
            #expect(
                log.contains("projector.postgres.unavailable") && log.contains("password authentication failed"),
                "\(log.suffix(600))")
            #expect(
                log.contains("\"postgres.url\":\"user=pulse_owner dbname=pulse host=127.0.0.1"),
                "the URL is logged as libpq parsed it, without the password")
            #expect(!log.contains(secret))
        }
    }
}

/// PostgreSQL's timestamptz text in UTC ("2024-05-01 10:04:00+00", optionally with a fraction) as microseconds.
func microsecondsFromPostgres(_ text: String) -> Int64 {
    let iso = text.replacingOccurrences(of: " ", with: "T").replacingOccurrences(of: "+00", with: "Z")
    guard case .success(let instant) = RFC3339.parse(iso) else { preconditionFailure("not a UTC timestamp: \(text)") }
    return instant.microsecondsSinceEpoch
}
