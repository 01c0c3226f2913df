extension Migration {
    /// `schema/*.sql`, embedded in the binary at build time: `Package.swift` declares the resource
    /// `Schema/Migrations`, a symbolic link to `schema/`, so the files there are the only copy of the migrations.
    /// A new migration is a new file there and a line here; `MigrationFileTests` fails when the two disagree.
    static let embedded: [Migration] = [
        Migration(1, "0001_transactions.sql", PackageResources._001_transactions_sql),
        Migration(2, "0002_rejected_gaps_quarantine.sql", PackageResources._002_rejected_gaps_quarantine_sql),
        Migration(3, "0003_fraud_rules_and_views.sql", PackageResources._003_fraud_rules_and_views_sql),
        Migration(4, "0004_versioned_rates.sql", PackageResources._004_versioned_rates_sql),
        Migration(5, "0005_extra_members.sql", PackageResources._005_extra_members_sql),
        Migration(6, "0006_ledger_histories.sql", PackageResources._006_ledger_histories_sql),
        Migration(7, "0007_warehouse_retention.sql", PackageResources._007_warehouse_retention_sql),
    ]

    /// The file's text without its final newline: what checksums were taken of since the first migration.
    private init(_ version: Int, _ name: String, _ file: [UInt8]) {
        let text = String(decoding: file, as: UTF8.self)
        self.init(version: version, name: name, sql: text.hasSuffix("\n") ? String(text.dropLast()) : text)
    }
}
