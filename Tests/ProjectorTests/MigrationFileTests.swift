import Foundation
@testable import Projector
import Testing

/// schema/*.sql is the source; the binary carries the same text (Migrations.generated.swift). This test fails
/// when they differ; with PULSE_REGENERATE_MIGRATIONS=1 it rewrites the Swift file from schema/ instead.
struct MigrationFileTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let schemaDirectory = repository.appendingPathComponent("schema")
    static let generated = repository.appendingPathComponent("Sources/Projector/Core/Schema/Migrations.generated.swift")

    static func files() throws -> [(version: Int, name: String, text: String)] {
        try FileManager.default.contentsOfDirectory(atPath: schemaDirectory.path).filter { $0.hasSuffix(".sql") }.sorted().map { name in
            guard let version = Int(name.prefix(4)), name.dropFirst(4).first == "_" else { throw TestFailure("\(name) is not NNNN_name.sql") }
            return (version, name, try String(contentsOf: schemaDirectory.appendingPathComponent(name), encoding: .utf8))
        }
    }

    @Test func embeddedMigrationsAreTheSchemaFiles() throws {
        let files = try Self.files()
        if ProcessInfo.processInfo.environment["PULSE_REGENERATE_MIGRATIONS"] == "1" { try Self.regenerate(files) }
        #expect(files.map(\.version) == Array(1...files.count), "versions are 1, 2, 3, … without holes")
        #expect(Migration.all.map(\.name) == files.map(\.name), "run PULSE_REGENERATE_MIGRATIONS=1 swift test --filter MigrationFileTests")
        for (migration, file) in zip(Migration.all, files) {
            #expect(migration.sql + "\n" == file.text, "\(file.name) changed: run PULSE_REGENERATE_MIGRATIONS=1 swift test --filter MigrationFileTests")
        }
    }

    static func regenerate(_ files: [(version: Int, name: String, text: String)]) throws {
        var output = """
            // GENERATED from schema/*.sql by ProjectorTests (MigrationFileTests). Do not edit by hand: after changing schema/,
            // run `PULSE_REGENERATE_MIGRATIONS=1 swift test --scratch-path .build-projector --filter MigrationFileTests`.
            // A test fails whenever this file and schema/ disagree.

            extension Migration {
                static let embedded: [Migration] = [

            """
        for file in files {
            precondition(file.text.hasSuffix("\n") && !file.text.contains("\"\"\"#"), "\(file.name) ends with a newline and has no raw-string terminator")
            output += "        Migration(version: \(file.version), name: \"\(file.name)\", sql: #\"\"\"\n\(file.text)\"\"\"#),\n"
        }
        output += "    ]\n}\n"
        try output.write(to: generated, atomically: true, encoding: .utf8)
    }
}
