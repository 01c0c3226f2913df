import Foundation
import PostgresClient

@testable import Projector

/// Reads of a warehouse schema the tests compare with their oracles.
extension PostgresConnection {
    /// Per UTC day: count, sums and fraud count, as the warehouse computes them (the `daily_digest` view's
    /// definition written out again here, so a wrong view cannot hide a wrong table).
    func dailyDigest(_ schema: WarehouseSchema) throws -> [String: Oracle.Day] {
        let rows = try query(
            """
            SELECT (transaction_timestamp AT TIME ZONE 'UTC')::date::text AS day, count(*) AS count, sum(amount)::text AS amount,
                   sum(tax_amount)::text AS tax, sum(total_amount)::text AS total, count(*) FILTER (WHERE is_fraud_flagged) AS flagged
            FROM \(schema.transactions) GROUP BY 1
            """)
        var days: [String: Oracle.Day] = [:]
        for row in 0..<rows.count {
            days[rows.value(row, "day")!] = Oracle.Day(
                count: Int(rows.value(row, "count")!)!, amount: Decimal(string: rows.value(row, "amount")!)!,
                tax: Decimal(string: rows.value(row, "tax")!)!,
                total: Decimal(string: rows.value(row, "total")!)!, flagged: Int(rows.value(row, "flagged")!)!)
        }
        return days
    }

    /// A digest of every row of `transactions` and `rejected_messages` except processed_at (the one column a
    /// replay may change), in lineage order: equal digests mean identical rows, batch ids included.
    func contentDigest(_ schema: WarehouseSchema) throws -> String {
        let transactions = try text(
            """
            SELECT coalesce(md5(string_agg(concat_ws('|', order_id, amount, currency, tax_amount, total_amount, is_fraud_flagged, customer_id,
                   product_category, transaction_timestamp, batch_id, ledger_id, lsn, source_topic, source_partition, source_offset, rules_version),
                   E'\\n' ORDER BY ledger_id, lsn)), 'empty')
            FROM \(schema.transactions)
            """)
        let rejections = try text(
            """
            SELECT coalesce(md5(string_agg(concat_ws('|', source_topic, source_partition, source_offset, kind, reason, field, received_at,
                   kafka_timestamp, encode(message_key, 'hex'), encode(raw_bytes, 'hex'), raw_text, original_byte_count, order_id, original_lsn,
                   ledger_id, lsn, batch_id), E'\\n' ORDER BY ledger_id, lsn)), 'empty')
            FROM \(schema.rejectedMessages)
            """)
        return transactions + "/" + rejections
    }

    /// Rows that break exactly-once: an order or a Kafka offset held twice, a row without its key or a key without its row.
    func duplicates(_ schema: WarehouseSchema) throws -> (orders: Int, offsets: Int, keysMismatch: Int) {
        let orders = try integer("SELECT count(*) - count(DISTINCT order_id) FROM \(schema.transactions)")
        let offsets = try integer(
            """
            SELECT count(*) - count(DISTINCT (source_topic, source_partition, source_offset)) FROM (
                SELECT source_topic, source_partition, source_offset FROM \(schema.transactions)
                UNION ALL SELECT source_topic, source_partition, source_offset FROM \(schema.rejectedMessages)) all_rows
            """)
        // Every row has its message key and every key its row, with the same lineage.
        let keys = try integer(
            """
            SELECT (SELECT count(*) FROM \(schema.transactions) t
                    FULL JOIN (SELECT * FROM \(schema.messageKeys) WHERE order_id IS NOT NULL) k USING (order_id)
                    WHERE t.order_id IS NULL OR k.order_id IS NULL OR t.lsn <> k.lsn OR t.ledger_id <> k.ledger_id OR t.source_offset <> k.source_offset)
                 + (SELECT count(*) FROM \(schema.rejectedMessages) r
                    FULL JOIN (SELECT * FROM \(schema.messageKeys) WHERE order_id IS NULL) k USING (source_topic, source_partition, source_offset)
                    WHERE r.lsn IS NULL OR k.lsn IS NULL OR r.lsn <> k.lsn OR r.ledger_id <> k.ledger_id)
            """)
        return (orders, offsets, keys)
    }

    /// Whether exactly `waitingForALock` of ledger-projector's connections wait for a lock inside a transaction
    /// and exactly `idleInTransaction` sit idle inside one (a batch loaded, waiting in the process for the batch
    /// before it to commit).
    func loadConnections(waitingForALock: Int, idleInTransaction: Int) throws -> Bool {
        let counts = try query(
            """
            SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*) FILTER (WHERE state = 'idle in transaction')
            FROM pg_stat_activity WHERE application_name = 'ledger-projector'
            """
        ).values[0]
        return counts == [String(waitingForALock), String(idleInTransaction)] as [String?]
    }

    func checkpoint(_ schema: WarehouseSchema, _ ledgerID: UUID) throws -> UInt64 {
        UInt64(
            try query("SELECT last_lsn FROM \(schema.checkpoints) WHERE ledger_id = $1", [ledgerID.uuidString]).scalar
                ?? "0")!
    }
}
