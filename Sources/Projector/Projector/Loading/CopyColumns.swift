import Foundation
import Ledger
import PostgresClient

/// The column lists of the COPY statements and the encoders that write one row in exactly that order.
/// A list and its encoder change together; `fieldCount` ties them (a mismatch is a bug the server would
/// report as "row field count is N, expected M").
package enum CopyColumns {
    /// One `message_keys` row per projected message: transactions carry their order and its timestamp,
    /// rejections leave both NULL.
    static let messageKeys =
        "source_topic, source_partition, source_offset, order_id, transaction_timestamp, ledger_id, lsn"

    package static func encodeTransactionKey(_ row: TransactionRow, into buffer: inout BinaryCopyBuffer) {
        encodeKey(
            row.source, orderID: row.orderID, timestampMicroseconds: row.timestampMicroseconds, ledgerID: row.ledgerID,
            lsn: row.lsn, into: &buffer)
    }

    package static func encodeRejectionKey(_ row: RejectionRow, into buffer: inout BinaryCopyBuffer) {
        encodeKey(
            row.source, orderID: nil, timestampMicroseconds: nil, ledgerID: row.ledgerID, lsn: row.lsn, into: &buffer)
    }

    private static func encodeKey(
        _ source: SourceCoordinates, orderID: UUID?, timestampMicroseconds: Int64?, ledgerID: UUID, lsn: UInt64,
        into buffer: inout BinaryCopyBuffer
    ) {
        buffer.beginTuple(fieldCount: 7)
        buffer.appendText(source.topic)
        buffer.appendInt32(source.partition)
        buffer.appendInt64(source.offset)
        if let orderID { buffer.appendUUID(orderID) } else { buffer.appendNull() }
        if let timestampMicroseconds {
            buffer.appendTimestamp(microsecondsSinceUnixEpoch: timestampMicroseconds)
        } else {
            buffer.appendNull()
        }
        buffer.appendUUID(ledgerID)
        buffer.appendInt64(Int64(lsn))
    }

    /// processed_at is left to its default, now(): the time of the transaction that wrote the row.
    static let transactions = """
        order_id, amount, currency, tax_amount, total_amount, is_fraud_flagged, customer_id, product_category, \
        transaction_timestamp, batch_id, ledger_id, lsn, source_topic, source_partition, source_offset, rules_version, \
        tax_rate_version, extra_members
        """

    package static func encodeTransaction(_ row: TransactionRow, into buffer: inout BinaryCopyBuffer) {
        buffer.beginTuple(fieldCount: 18)
        buffer.appendUUID(row.orderID)
        buffer.appendNumeric(cents: row.amountCents)
        buffer.appendText(row.currency)
        buffer.appendNumeric(cents: row.taxCents)
        buffer.appendNumeric(cents: row.totalCents)
        buffer.appendBool(row.isFraudFlagged)
        buffer.appendText(row.customerID)
        buffer.appendText(row.productCategory)
        buffer.appendTimestamp(microsecondsSinceUnixEpoch: row.timestampMicroseconds)
        buffer.appendText(row.batchID)
        buffer.appendUUID(row.ledgerID)
        buffer.appendInt64(Int64(row.lsn))
        buffer.appendText(row.source.topic)
        buffer.appendInt32(row.source.partition)
        buffer.appendInt64(row.source.offset)
        buffer.appendInt32(row.rulesVersion)
        buffer.appendInt32(row.taxRateVersion)
        buffer.appendJSONB(row.extraMembers)
    }

    static let rejections = """
        source_topic, source_partition, source_offset, kind, reason, field, received_at, kafka_timestamp, message_key, \
        raw_bytes, raw_text, original_byte_count, order_id, original_lsn, ledger_id, lsn, batch_id
        """

    package static func encodeRejection(_ row: RejectionRow, into buffer: inout BinaryCopyBuffer) {
        buffer.beginTuple(fieldCount: 17)
        buffer.appendText(row.source.topic)
        buffer.appendInt32(row.source.partition)
        buffer.appendInt64(row.source.offset)
        buffer.appendText(row.kind.rawValue)
        buffer.appendText(row.reason)
        buffer.appendText(row.field)
        buffer.appendTimestamp(microsecondsSinceUnixEpoch: row.receivedMicroseconds)
        if let kafka = row.kafkaTimestampMicroseconds {
            buffer.appendTimestamp(microsecondsSinceUnixEpoch: kafka)
        } else {
            buffer.appendNull()
        }
        buffer.appendBytes(row.source.key)
        buffer.appendBytes(row.rawBytes)
        buffer.appendText(row.rawText)
        buffer.appendInt32(row.originalByteCount)
        if let orderID = row.orderID { buffer.appendUUID(orderID) } else { buffer.appendNull() }
        if let originalLSN = row.originalLSN { buffer.appendInt64(Int64(originalLSN)) } else { buffer.appendNull() }
        buffer.appendUUID(row.ledgerID)
        buffer.appendInt64(Int64(row.lsn))
        buffer.appendText(row.batchID)
    }
}
