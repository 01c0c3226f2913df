import Foundation
import Logging
import PostgresClient

/// Keeps one daily partition of `transactions` per UTC day that has (or will soon have) rows: created ahead of
/// need for the coming days, and on demand, before a batch is copied, for the days it holds. Days outside the
/// window `today - partitionDaysBehindMax ... today + partitionDaysAheadMax` get no partition and go to the
/// DEFAULT partition, as does a day whose rows already sit there (PostgreSQL refuses a partition that would
/// strand rows of the default one).
///
/// Partitions are created in their own short transactions, never inside a batch's: creating one locks the
/// parent table, and holding that lock for a whole COPY would stall the dashboards.
final class PartitionManager {
    let schema: WarehouseSchema
    private let logger: Logger
    private var existing: Set<UTCCalendar.Day> = []
    /// Days that live in the DEFAULT partition for good.
    private var inDefault: Set<UTCCalendar.Day> = []

    static let namePrefix = "transactions_p"

    init(schema: WarehouseSchema, logger: Logger) {
        self.schema = schema
        self.logger = logger
    }

    /// Learns which daily partitions exist (after a reconnect, another process may have created some).
    func load(_ connection: PostgresConnection) throws {
        let rows = try connection.query(
            """
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass
            """, [schema.transactions])
        existing = Set((0..<rows.count).compactMap { Self.day(fromPartitionName: rows.value($0, "relname") ?? "") })
    }

    /// Creates the partitions for today and the next `partitionDaysAhead` days.
    func createAhead(_ connection: PostgresConnection, today: UTCCalendar.Day) throws {
        let days = (0...Int64(ProjectorLimits.partitionDaysAhead)).map {
            UTCCalendar.Day(daysSinceEpoch: today.daysSinceEpoch + $0)
        }
        try ensure(Set(days), connection, today: today)
    }

    /// Makes sure every day in `days` has its partition, or knowingly uses the default one.
    func ensure(_ days: Set<UTCCalendar.Day>, _ connection: PostgresConnection, today: UTCCalendar.Day) throws {
        let earliest = today.daysSinceEpoch - Int64(ProjectorLimits.partitionDaysBehindMax)
        let latest = today.daysSinceEpoch + Int64(ProjectorLimits.partitionDaysAheadMax)
        let window = earliest...latest
        for day in days.sorted()
        where !existing.contains(day) && !inDefault.contains(day) && window.contains(day.daysSinceEpoch) {
            try create(day, connection)
        }
    }

    /// Warehouse retention (issue 14, `--retention-days`): drops the daily partitions of days before `firstKept`,
    /// and deletes the DEFAULT partition's rows dated before it (far-past days have no partition). Each in a
    /// short transaction of its own. `message_keys` keeps its rows: they are what makes every offset and order
    /// appear once, and a dropped day's orders must stay known. Returns the days dropped.
    func dropDays(before firstKept: UTCCalendar.Day, _ connection: PostgresConnection) throws -> [UTCCalendar.Day] {
        try load(connection)
        // First what is about to be dropped: a loader that then finds an order's row gone knows why.
        try connection.execute(
            """
            INSERT INTO \(schema.table("warehouse_retention")) (first_kept_day) VALUES ('\(firstKept)')
            ON CONFLICT (singleton) DO UPDATE SET first_kept_day = greatest(
                \(schema.table("warehouse_retention")).first_kept_day, excluded.first_kept_day), updated_at = now()
            """)
        let old = existing.filter { $0 < firstKept }.sorted()
        for day in old {
            // The name comes from the schema and a day parsed from the catalog: no value from outside. Dropping
            // a partition locks the parent table: wait at most `partitionDropLockTimeoutMilliseconds` behind
            // readers, and try again at the next upkeep rather than stall every COPY and dashboard behind it.
            do {
                try connection.execute(
                    """
                    BEGIN; SET LOCAL lock_timeout = \(ProjectorLimits.partitionDropLockTimeoutMilliseconds);
                    DROP TABLE IF EXISTS \(schema.table(Self.namePrefix + day.compact)); COMMIT
                    """)
            } catch let error as ProjectorError where error.sqlState == "55P03" {
                try connection.execute("ROLLBACK")
                logger.warning(
                    "projector.partition.drop_postponed",
                    metadata: ["warehouse.schema": "\(schema)", "warehouse.day": "\(day)"])
                continue
            }
            existing.remove(day)
            logger.notice(
                "projector.partition.dropped", metadata: ["warehouse.schema": "\(schema)", "warehouse.day": "\(day)"])
        }
        try connection.execute(
            "DELETE FROM \(schema.table("transactions_default")) WHERE transaction_timestamp < '\(firstKept) 00:00:00+00'"
        )
        return old
    }

    private func create(_ day: UTCCalendar.Day, _ connection: PostgresConnection) throws {
        // The bounds are computed from integers and the name from the schema and the day: no value from outside.
        let sql = """
            CREATE TABLE IF NOT EXISTS \(schema.table(Self.namePrefix + day.compact)) PARTITION OF \(schema.transactions)
            FOR VALUES FROM ('\(day) 00:00:00+00') TO ('\(day.next) 00:00:00+00')
            """
        do {
            try connection.execute(sql)
            existing.insert(day)
            logger.debug(
                "projector.partition.created", metadata: ["warehouse.schema": "\(schema)", "warehouse.day": "\(day)"])
        } catch let error as ProjectorError where error.sqlState == "42P07" || error.sqlState == "23505" {
            // Created concurrently by another projector: it exists, which is all we need.
            existing.insert(day)
        } catch let error as ProjectorError where error.sqlState == "23514" {
            inDefault.insert(day)
            logger.warning(
                "projector.partition.day_in_default",
                metadata: ["warehouse.schema": "\(schema)", "warehouse.day": "\(day)"])
        }
    }

    static func day(fromPartitionName name: String) -> UTCCalendar.Day? {
        guard name.hasPrefix(namePrefix) else { return nil }
        let digits = name.dropFirst(namePrefix.count)
        guard digits.count == 8, digits.allSatisfy(\.isASCII), Int(digits) != nil else { return nil }
        return UTCCalendar.Day("\(digits.prefix(4))-\(digits.dropFirst(4).prefix(2))-\(digits.suffix(2))")
    }
}
