import Foundation
import LedgerTesting
import Testing

@testable import Projector

/// schema/*.sql is the only copy of the migrations; the binary embeds them at build time (Migrations.swift lists
/// their names). This test fails when the list and the files disagree.
struct MigrationFileTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let schemaDirectory = repository.appendingPathComponent("schema")

    static func files() throws -> [(version: Int, name: String, text: String)] {
        try FileManager.default.contentsOfDirectory(atPath: schemaDirectory.path).filter { $0.hasSuffix(".sql") }
            .sorted().map { name in
                guard let version = Int(name.prefix(4)), name.dropFirst(4).first == "_" else {
                    throw TestFailure("\(name) is not NNNN_name.sql")
                }
                return (
                    version, name, try String(contentsOf: schemaDirectory.appendingPathComponent(name), encoding: .utf8)
                )
            }
    }

    @Test func embeddedMigrationsAreTheSchemaFiles() throws {
        let files = try Self.files()
        #expect(files.map(\.version) == Array(1...files.count), "versions are 1, 2, 3, … without holes")
        #expect(
            Migration.all.map(\.name) == files.map(\.name), "every schema/*.sql is listed in Migrations.swift, in order"
        )
        for (migration, file) in zip(Migration.all, files) {
            #expect(migration.version == file.version && migration.sql + "\n" == file.text, "\(file.name)")
        }
    }
}
