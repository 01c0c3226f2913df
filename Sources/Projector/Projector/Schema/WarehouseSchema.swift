import Foundation
import OperatingErrors

/// The PostgreSQL schema holding one warehouse (default `warehouse`), and the qualified names of its tables.
/// Identifiers are computed from a validated schema name and fixed table names, then double-quoted; values
/// never go into SQL text (they are parameters).
public struct WarehouseSchema: Sendable, Hashable, CustomStringConvertible {
    public static let defaultName = "warehouse"

    public let name: String

    /// Accepts lower-case ASCII letters, digits and underscores, starting with a letter or underscore, at most
    /// `ProjectorLimits.schemaNameBytesMax` bytes, not `pg_…` (reserved by PostgreSQL).
    public init(_ name: String) throws {
        let valid =
            !name.isEmpty && name.utf8.count <= ProjectorLimits.schemaNameBytesMax && !name.hasPrefix("pg_")
            && name.utf8.first.map { $0 == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }
                == true
            && name.utf8.allSatisfy {
                $0 == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
            }
        guard valid else {
            throw ProjectorError(
                .invalidArgument,
                "a schema name is lower-case letters, digits and _, starting with a letter, at most \(ProjectorLimits.schemaNameBytesMax) bytes, not pg_…",
                [("schema", name)])
        }
        self.name = name
    }

    public var description: String { name }

    /// The schema name, double-quoted for SQL.
    var quoted: String { Self.quote(name) }

    /// `"schema"."table"`.
    func table(_ table: String) -> String { quoted + "." + Self.quote(table) }

    var transactions: String { table("transactions") }
    var messageKeys: String { table("message_keys") }
    var checkpoints: String { table("projector_checkpoints") }
    var rejectedMessages: String { table("rejected_messages") }
    var ledgerGaps: String { table("ledger_gaps") }
    var quarantinedRecords: String { table("quarantined_records") }
    var fraudRules: String { table("fraud_rules") }
    var taxRates: String { table("tax_rates") }
    var migrations: String { table("schema_migrations") }
    var dailyDigest: String { table("daily_digest") }

    /// The shadow schema a rebuild fills before swapping it in.
    var rebuildShadow: WarehouseSchema { WarehouseSchema(unchecked: name + "__rebuild") }

    /// Where the replaced warehouse goes during a swap, until it is dropped.
    func retired(at unixSeconds: Int64) -> WarehouseSchema {
        WarehouseSchema(unchecked: name + "__old_" + String(unixSeconds))
    }

    private init(unchecked name: String) {
        precondition(name.utf8.count <= 63, "PostgreSQL identifiers have at most 63 bytes")
        self.name = name
    }

    /// Double-quotes an identifier (doubling any quote inside), for names the code computed.
    static func quote(_ identifier: String) -> String {
        precondition(!identifier.utf8.contains(0), "identifiers have no NUL")
        return "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A stable 64-bit key for `pg_advisory_lock`, derived from a purpose and this schema (FNV-1a).
    func advisoryLockKey(_ purpose: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "pulse-ledger:\(purpose):\(name)".utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return Int64(bitPattern: hash)
    }
}
