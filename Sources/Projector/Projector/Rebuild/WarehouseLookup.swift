import Foundation
import PostgresClient

/// What the warehouse holds about one order, for `ledger-tool trace --postgres`.
public enum WarehouseLookup {
    /// One warehouse row, as column name and PostgreSQL's text for its value (NULL as "null").
    public struct Row: Sendable {
        public var table: String
        public var columns: [(name: String, value: String)]
    }

    /// The order's `transactions` row (found through `message_keys`, so only its day's partition is read) and any
    /// `rejected_messages` rows naming it (conflicting duplicates). Empty when the warehouse has neither.
    public static func rows(orderID: UUID, postgresURL: String, schema: WarehouseSchema) throws -> [Row] {
        let connection = try PostgresConnection(url: postgresURL, applicationName: "ledger-tool trace")
        let id = orderID.uuidString
        let transactions = try connection.query(
            """
            SELECT t.tableoid::regclass::text AS partition, t.order_id, t.amount, t.currency, t.tax_amount, t.total_amount, t.is_fraud_flagged,
                   t.customer_id, t.product_category, t.transaction_timestamp, t.processed_at, t.batch_id, t.rules_version,
                   t.ledger_id, t.lsn, t.source_topic, t.source_partition, t.source_offset
            FROM \(schema.messageKeys) k
            JOIN \(schema.transactions) t ON t.transaction_timestamp = k.transaction_timestamp AND t.order_id = k.order_id
            WHERE k.order_id = $1
            """, [id])
        let rejections = try connection.query(
            """
            SELECT kind, reason, field, source_topic, source_partition, source_offset, received_at, original_lsn, ledger_id, lsn, batch_id, raw_text
            FROM \(schema.rejectedMessages) WHERE order_id = $1 ORDER BY received_at, lsn
            """, [id])
        return rows(transactions, table: schema.name + ".transactions")
            + rows(rejections, table: schema.name + ".rejected_messages")
    }

    /// The same, as lines for a terminal: a heading per row, then `name  value` lines.
    public static func describe(orderID: UUID, postgresURL: String, schema: WarehouseSchema) throws -> [String] {
        let found = try rows(orderID: orderID, postgresURL: postgresURL, schema: schema)
        guard !found.isEmpty else { return ["warehouse (\(schema.name)): no row for order \(orderID.text)"] }
        return found.flatMap { row in
            ["warehouse \(row.table):"]
                + row.columns.map { "    \($0.name.padding(toLength: 22, withPad: " ", startingAt: 0)) \($0.value)" }
        }
    }

    private static func rows(_ result: PostgresRows, table: String) -> [Row] {
        (0..<result.count).map { index in
            Row(
                table: table,
                columns: result.columns.enumerated().map { column in
                    (column.element, result.values[index][column.offset] ?? "null")
                })
        }
    }
}
