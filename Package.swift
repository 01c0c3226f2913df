// swift-tools-version:6.0
// Pulse Ledger: an event-sourced transaction ledger (Kafka → LZ4 write-ahead log → PostgreSQL warehouse).
import PackageDescription

/// System-library targets: one per C library, each imported by exactly one folder of one Swift module.
let cLibraries: [Target] = [
    .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
    .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
    .systemLibrary(name: "CRDKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
    .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
]

let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "pulse-ledger",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ledger-tool", targets: ["LedgerTool"]),
        .executable(name: "ledger-ingest", targets: ["LedgerIngest"]),
        .executable(name: "ledger-projector", targets: ["LedgerProjector"]),
        .executable(name: "ledger-bench", targets: ["LedgerBench"]),
        .library(name: "Ledger", targets: ["Ledger"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/vapor/console-kit", from: "4.16.0"),
    ],
    targets: cLibraries + [
        .target(name: "Ledger", dependencies: ["CLZ4", "CSQLite", logging], path: "Sources/Ledger"),
        .executableTarget(name: "LedgerIngest", dependencies: ["Ledger", argumentParser, logging], path: "Sources/Ingest/Main"),
        .executableTarget(
            name: "LedgerProjector", dependencies: ["Ledger", argumentParser, logging], path: "Sources/Projector/Main"),
        .executableTarget(
            name: "LedgerTool",
            dependencies: [
                "Ledger", argumentParser, logging,
                .product(name: "ConsoleKitTerminal", package: "console-kit"),
            ],
            path: "Sources/Tools/LedgerTool"),
        .executableTarget(name: "LedgerBench", dependencies: ["Ledger", argumentParser], path: "Sources/Tools/Benchmarks"),
        .testTarget(name: "LedgerTests", dependencies: ["Ledger"], path: "Tests/LedgerTests"),
    ]
)
