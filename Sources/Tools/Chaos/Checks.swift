import Foundation

/// One line of the verdict: what was expected, what was found, and a few examples when they differ.
struct Check {
    var name: String
    var expected: String
    var found: String
    var passed: Bool
    var examples: [String] = []
    /// Print the examples even when the check passed (where they are worth a look).
    var showsPassingExamples = false

    /// "Nothing of this kind": passes when `violations` is empty.
    static func none<Item>(_ name: String, _ violations: [Item], describe: (Item) -> String = { "\($0)" }) -> Check {
        Check(
            name: name, expected: "0", found: "\(violations.count)", passed: violations.isEmpty,
            examples: violations.prefix(5).map(describe))
    }

    /// A figure reported for information (allowed to be anything).
    static func info(_ name: String, _ found: String, expected: String = "any") -> Check {
        Check(name: name, expected: expected, found: found, passed: true)
    }
}

/// Compares what the pipeline holds after the run with the oracle. Pure: everything it needs is passed in.
struct Verdict {
    let oracle: Oracle
    let ledgers: [LedgerContents]
    let archives: [ArchiveContents]
    let retention: RetentionRuns
    let warehouse: WarehouseContents
    let deadLetters: DeadLetters
    /// Acknowledged messages the campaign wrote again on purpose (each must be in the topic as a copy).
    let copiesWritten: Int
    let findings: [Finding]
    let producerFailures: [(name: String, status: Int32?)]
    let drained: Bool
    let finalProjectorStatus: Int32?

    var singleLedger: Bool { ledgers.count == 1 }

    var checks: [Check] {
        producerChecks + ledgers.flatMap(ledgerChecks) + archives.flatMap(\.checks) + retention.checks + coverageChecks
            + warehouseChecks + rejectedChecks + deadLetterChecks + serviceChecks
    }

    // MARK: What the topic holds, and what the producer was told

    private var producerChecks: [Check] {
        [
            Check.info(
                "messages in the topic",
                "\(oracle.produced.count) (\(oracle.invalid.count) invalid, \(oracle.orders.count) orders, \(oracle.conflictingOrders.count) with a conflicting repeat)"
            ),
            Check.none("topic: offsets dropped by the broker's retention before they were read", oracle.dropped),
            Check.none(
                "topic: messages the producer was not acknowledged for in their partition", oracle.unacknowledged),
            Check(
                name:
                    "topic: copies of a message acknowledged at another offset (written again on purpose, or by the dev broker retrying a produce)",
                expected: "≥ \(copiesWritten)", found: "\(oracle.producerCopies.count)",
                passed: oracle.producerCopies.count >= copiesWritten,
                examples: oracle.producerCopies.prefix(5).map(\.description), showsPassingExamples: true),
            Check.none(
                "producer: acknowledged messages not in the topic at their offset", oracle.acknowledgedElsewhere),
            Check.none("producer: offsets acknowledged twice", oracle.reportedTwice),
            Check.none("producer runs that did not exit 0", producerFailures) {
                "\($0.name): \($0.status.map(String.init) ?? "did not finish")"
            },
        ]
    }

    // MARK: Each ledger

    private func ledgerChecks(_ ledger: LedgerContents) -> [Check] {
        let label = "ledger \(ledger.name):"
        var perOffset: [Offset: Int] = [:]
        for record in ledger.records { perOffset[record.offset, default: 0] += 1 }
        let acceptedByOrder = Dictionary(
            grouping: ledger.records.filter { $0.kind == "accepted" }, by: { $0.orderID ?? "" })
        return [
            Check.info("\(label) records", "\(ledger.records.count)"),
            Check.none("\(label) offsets recorded more than once", perOffset.filter { $0.value > 1 }.keys.sorted()),
            Check.none(
                "\(label) offsets the topic does not hold",
                Set(perOffset.keys).subtracting(oracle.produced.keys).sorted()),
            Check.none(
                "\(label) gap records (data deleted before ingest)",
                ledger.records.filter { $0.kind == "gap" }.map(\.offset)),
            Check.none(
                "\(label) orders accepted more than once", acceptedByOrder.filter { $0.value.count > 1 }.keys.sorted()),
            Check.none("\(label) invalid messages not rejected with the intended reason", invalidMisclassified(ledger)),
            Check.none(
                "\(label) generated orders recorded as rejected",
                ledger.records.filter { $0.kind == "rejected" && oracle.orderAt[$0.offset] != nil }.map(\.offset)),
            Check.none(
                "\(label) repeats classified against the wrong content", repeatsMisclassified(ledger, acceptedByOrder)),
            Check.none(
                "\(label) copies of a message in a partition not classified as repeats of the first",
                copiesMisclassified(ledger)),
            Check(
                name: "\(label) ledger-tool verify", expected: "exit 0", found: "exit \(ledger.verifyStatus)",
                passed: ledger.verifyStatus == 0 && ledger.inspectError == nil,
                examples: [ledger.verifyOutput] + (ledger.inspectError.map { ["inspect: \($0)"] } ?? [])),
        ]
    }

    /// The same message (key, value, headers) at several offsets of a partition: a retried produce the broker
    /// wrote again, or the generator repeating a message byte for byte. A ledger reads a partition in offset order,
    /// so the first copy it recorded is classified like any message (accepted if its order is new to the ledger)
    /// and each later copy repeats it: a duplicate of an accepted or duplicate first copy, a conflict like a
    /// conflicting one, rejected for the same reason as a rejected one.
    private func copiesMisclassified(_ ledger: LedgerContents) -> [String] {
        let recordAt = Dictionary(ledger.records.map { ($0.offset, $0) }, uniquingKeysWith: { first, _ in first })
        return oracle.repeatedMessages.flatMap { offsets -> [String] in
            let recorded = offsets.compactMap { recordAt[$0] }
            guard let first = recorded.first else { return [] }
            let expectedKind = first.kind == "accepted" ? "duplicate" : first.kind
            return recorded.dropFirst().compactMap { copy in
                copy.kind == expectedKind && (copy.kind != "rejected" || copy.reason == first.reason)
                    ? nil
                    : "\(copy.offset): \(copy.kind) \(copy.reason ?? ""), but the first copy \(first.offset) is \(first.kind) \(first.reason ?? ""): expected \(expectedKind)"
            }
        }
    }

    private func invalidMisclassified(_ ledger: LedgerContents) -> [String] {
        ledger.records.compactMap { record in
            guard let intended = oracle.invalid[record.offset] else { return nil }
            return record.kind == "rejected" && record.reason == intended
                ? nil : "\(record.offset): meant \(intended), recorded \(record.kind) \(record.reason ?? "")"
        }
    }

    /// Within a ledger, an order's duplicates carry the accepted record's content and its conflicts another one;
    /// a duplicate or conflict with no accepted record in the same ledger is wrong too.
    private func repeatsMisclassified(_ ledger: LedgerContents, _ acceptedByOrder: [String: [LedgerContents.Record]])
        -> [String]
    {
        ledger.records.compactMap { record in
            guard record.kind == "duplicate" || record.kind == "conflict", let orderID = record.orderID else {
                return nil
            }
            guard let accepted = acceptedByOrder[orderID]?.first, let order = oracle.orders[orderID],
                let acceptedContent = content(of: accepted.offset, in: order),
                let ownContent = content(of: record.offset, in: order)
            else {
                return "\(record.offset): \(record.kind) of order \(orderID), which this ledger never accepted"
            }
            let sameContent = acceptedContent == ownContent
            return (record.kind == "duplicate") == sameContent
                ? nil
                : "\(record.offset): \(record.kind), but its content is \(sameContent ? "the same as" : "different from") the accepted \(accepted.offset)"
        }
    }

    private func content(of offset: Offset, in order: Oracle.Order) -> Data? {
        order.offsetsByContent.first { $0.value.contains(offset) }?.key
    }

    // MARK: Every produced offset, across ledgers

    private var ledgerOffsets: [Set<Offset>] { ledgers.map { Set($0.records.map(\.offset)) } }

    private var conflictOffsets: Set<Offset> {
        Set(ledgers.flatMap { $0.records.filter { $0.kind == "conflict" }.map(\.offset) })
    }

    private var coverageChecks: [Check] {
        let union = ledgerOffsets.reduce(into: Set<Offset>()) { $0.formUnion($1) }
        let missing = Set(oracle.produced.keys).subtracting(union).sorted()
        let acceptedOrders = Set(ledgers.flatMap { $0.records.filter { $0.kind == "accepted" }.compactMap(\.orderID) })
        let conflictedOrders = Set(conflictOffsets.compactMap { oracle.orderAt[$0] })
        let silentConflicts = oracle.conflictingOrders.keys.filter { !conflictedOrders.contains($0) }.sorted()
        var checks = [
            Check.none(
                singleLedger ? "produced offsets missing from the ledger" : "produced offsets in neither ledger",
                missing),
            Check.none(
                "produced orders accepted by no ledger", Set(oracle.orders.keys).subtracting(acceptedOrders).sorted()),
        ]
        // With one ledger a count must be zero; with two it is information (the projector settles it across
        // ledgers). The same split recurs below for the warehouse's conflicts: each says its own check.
        if singleLedger {
            checks.append(Check.none("orders produced with two contents and no conflict recorded", silentConflicts))
        } else {
            checks.append(
                Check.info(
                    "offsets recorded by both ledgers (rebalances; the projector deduplicates)",
                    "\(ledgerOffsets[0].intersection(ledgerOffsets[1]).count)"))
            checks.append(
                Check.info(
                    "orders with two contents accepted in different ledgers (the projector records the conflict)",
                    "\(silentConflicts.count)"))
        }
        return checks
    }

    // MARK: The warehouse

    private var warehouseChecks: [Check] {
        let expectedDays = oracle.days
        var checks: [Check] = Set(expectedDays.keys).union(warehouse.days.keys).sorted().map { day in
            let expected = expectedDays[day] ?? DayDigest()
            let found = warehouse.days[day] ?? DayDigest()
            return Check(
                name: "warehouse \(day): rows, sum(amount), fraud flagged", expected: expected.text, found: found.text,
                passed: expected == found)
        }
        let rowsByOrder = Dictionary(grouping: warehouse.rows, by: \.orderID)
        checks += [
            Check.none("warehouse: duplicate order_id", rowsByOrder.filter { $0.value.count > 1 }.keys.sorted()),
            Check.none(
                "warehouse: produced orders missing", Set(oracle.orders.keys).subtracting(rowsByOrder.keys).sorted()),
            Check.none(
                "warehouse: orders never produced", Set(rowsByOrder.keys).subtracting(oracle.orders.keys).sorted()),
            Check.none(
                "warehouse: rows whose amount differs from the order's",
                warehouse.rows.filter { row in
                    oracle.orders[row.orderID].map { $0.amountCents != row.amountCents } ?? false
                }.map(\.orderID)),
            Check.none(
                "warehouse: rows whose source offset does not carry that order",
                warehouse.rows.filter { row in
                    oracle.orders[row.orderID].map { !$0.offsets.contains(row.offset) } ?? false
                }.map { "\($0.orderID) at \($0.offset)" }),
        ]
        return checks
    }

    private var rejectedChecks: [Check] {
        let invalidMissing = oracle.invalid.filter { offset, reason in
            guard let row = warehouse.rejected[offset] else { return true }
            return row.kind != "rejected" || row.reason != reason
        }.keys.sorted()
        let ledgerConflicts = conflictOffsets
        let conflictRows = Set(warehouse.rejected.filter { $0.value.kind == "conflict" }.keys)
        let rowOffsetByOrder = Dictionary(
            warehouse.rows.map { ($0.orderID, $0.offset) }, uniquingKeysWith: { first, _ in first })
        /// Whether `offset` carries its order with other content than the order's warehouse row.
        func contradictsTheRow(_ offset: Offset) -> Bool {
            guard let orderID = oracle.orderAt[offset], let order = oracle.orders[orderID],
                let rowOffset = rowOffsetByOrder[orderID]
            else { return false }
            return content(of: offset, in: order) != content(of: rowOffset, in: order)
        }
        let contradicting = oracle.conflictingOrders.values.flatMap(\.offsets).filter(contradictsTheRow)
        var checks = [
            Check.none("rejected_messages: invalid messages missing (or another reason)", invalidMissing),
            Check.none(
                "rejected_messages: rows for valid messages",
                warehouse.rejected.filter { $0.value.kind == "rejected" && oracle.invalid[$0.key] == nil }.keys.sorted()
            ),
            // A ledger's own conflict is judged against what that ledger accepted, which with two ledgers may not be
            // the version the warehouse kept; one the projector recorded is judged against the warehouse's row.
            Check.none(
                "rejected_messages: conflict rows no ledger recorded that do not contradict the order's row",
                conflictRows.subtracting(ledgerConflicts).filter { !contradictsTheRow($0) }.sorted()),
            Check.none(
                "rejected_messages: messages contradicting the order's row without a conflict row",
                contradicting.filter { !conflictRows.contains($0) }.sorted()),
        ]
        let conflictsNotInWarehouse = ledgerConflicts.subtracting(conflictRows).sorted()
        if singleLedger {
            checks.append(Check.none("rejected_messages: conflicts of the ledger missing", conflictsNotInWarehouse))
        } else {
            checks.append(
                Check.info(
                    "conflicts at offsets the other ledger projected first (kept there)",
                    "\(conflictsNotInWarehouse.count)"))
            checks.append(
                Check.info(
                    "conflict rows the projector recorded across ledgers",
                    "\(conflictRows.subtracting(ledgerConflicts).count)"))
        }
        return checks
    }

    // MARK: The dead-letter topic

    /// A letter for an invalid message is final: validation is a pure function of the bytes. A conflict letter is
    /// not: ingest flushes the dead letters before the ledger's fsync, so after a crash the re-consumed message
    /// may be classified the other way round (its original now comes after it), or go to the other ledger, which
    /// never saw the original and accepts it. Such a stale letter can only name a message of an order produced
    /// with two contents, with the reason conflicting_duplicate; anything else is a violation.
    private var deadLetterChecks: [Check] {
        let bySource = Dictionary(grouping: deadLetters.letters, by: \.source)
        let invalidMissing = oracle.invalid.filter { offset, reason in
            !(bySource[offset] ?? []).contains { $0.reason == reason }
        }.keys.sorted()
        let refused = Set(oracle.invalid.keys).union(conflictOffsets)
        let mayConflict = Set(oracle.conflictingOrders.values.flatMap(\.offsets))
        let unrefused = bySource.filter { !refused.contains($0.key) }
        let stale = unrefused.filter { offset, letters in
            mayConflict.contains(offset) && letters.allSatisfy { $0.reason == "conflicting_duplicate" }
        }
        let unexpected = unrefused.keys.filter { stale[$0] == nil }.sorted()
        let conflictsMissing = conflictOffsets.filter {
            !(bySource[$0] ?? []).contains { $0.reason == "conflicting_duplicate" }
        }.sorted()
        return [
            Check.none("dead letters: invalid messages missing (or another reason)", invalidMissing),
            Check.none("dead letters: for messages no ledger refused and no conflict can explain", unexpected),
            Check.none("dead letters: conflicts recorded in a ledger but not on the topic", conflictsMissing),
            Check.none(
                "dead letters: without source headers", Array(repeating: "letter", count: deadLetters.malformed)),
            Check(
                name: "dead letters: dropped by the broker's retention before they were read", expected: "0",
                found: "\(deadLetters.dropped)", passed: deadLetters.dropped == 0),
            Check.info(
                "stale conflict letters (written before a crash; the message was then classified the other way)",
                "\(stale.count)"),
            Check.info(
                "dead letters delivered more than once (at least once; consumers deduplicate on source headers)",
                "\(deadLetters.letters.count - bySource.count)"),
        ]
    }

    // MARK: The services

    static let findingKinds = [
        "services exited on their own", "SIGTERM stops that did not exit 0",
        "file faults that did not stop ingest with an error", "torn tails not repaired",
    ]

    private var serviceChecks: [Check] {
        Self.findingKinds.map { kind in Check.none(kind, findings.filter { $0.check == kind }.map(\.detail)) } + [
            Check(
                name: "ledgers caught up with every produced offset", expected: "yes", found: drained ? "yes" : "no",
                passed: drained),
            Check(
                name: "final ledger-projector --exit-when-caught-up", expected: "exit 0",
                found: finalProjectorStatus.map { "exit \($0)" } ?? "did not finish",
                passed: finalProjectorStatus == 0),
        ]
    }
}
