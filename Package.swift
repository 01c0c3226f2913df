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
let metrics: Target.Dependency = .product(name: "Metrics", package: "swift-metrics")
let serviceLifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")

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
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.20.0"),
        // SHA-256 (import's content identity); never hand-written.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
    ],
    targets: cLibraries + [
        .target(name: "Ledger", dependencies: ["CLZ4", "CSQLite", logging], path: "Sources/Ledger"),
        // Metrics endpoint, JSON logs and service plumbing shared by ledger-ingest and ledger-projector.
        .target(
            name: "ServiceKit",
            dependencies: [
                logging, metrics, serviceLifecycle,
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "FlyingFox", package: "FlyingFox"),
            ],
            path: "Sources/Tools/ServiceKit"),
        .target(name: "Ingest", dependencies: ["Ledger", "ServiceKit", "CRDKafka", logging, metrics, serviceLifecycle], path: "Sources/Ingest/Core"),
        .executableTarget(name: "LedgerIngest", dependencies: ["Ingest", "ServiceKit", argumentParser, logging], path: "Sources/Ingest/Main"),
        .target(name: "Projector", dependencies: ["Ledger", "ServiceKit", "CLibPQ", logging, metrics, serviceLifecycle], path: "Sources/Projector/Core"),
        .executableTarget(
            name: "LedgerProjector", dependencies: ["Projector", "ServiceKit", argumentParser, logging], path: "Sources/Projector/Main"),
        .executableTarget(
            name: "LedgerTool",
            dependencies: [
                "Ledger", "Ingest", "Projector", argumentParser, logging,
                .product(name: "ConsoleKitTerminal", package: "console-kit"),
                .product(name: "FlyingSocks", package: "FlyingFox"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Tools/LedgerTool"),
        .executableTarget(name: "LedgerBench", dependencies: ["Ledger", "Ingest", "Projector", argumentParser, logging], path: "Sources/Tools/Benchmarks"),
        .testTarget(name: "LedgerTests", dependencies: ["Ledger"], path: "Tests/LedgerTests"),
        .testTarget(name: "IngestTests", dependencies: ["Ingest", "Ledger"], path: "Tests/IngestTests"),
        .testTarget(name: "ProjectorTests", dependencies: ["Projector", "Ledger"], path: "Tests/ProjectorTests"),
    ]
)

// libFuzzer targets (scripts/fuzz; build flags in shared/design/TOOLCHAIN.md). Products, so `--product` builds them.
package.products += [
    .executable(name: "fuzz-validator", targets: ["FuzzValidator"]),
    .executable(name: "fuzz-segment", targets: ["FuzzSegment"]),
    .executable(name: "fuzz-roundtrip", targets: ["FuzzRoundTrip"]),
]
package.targets += [
    .executableTarget(name: "FuzzValidator", dependencies: ["Ledger"], path: "Sources/Tools/Fuzz/Validator"),
    .executableTarget(name: "FuzzSegment", dependencies: ["Ledger"], path: "Sources/Tools/Fuzz/Segment"),
    // Across the seams: validator → codec → frame → reader → projector transform → COPY encoding.
    .executableTarget(name: "FuzzRoundTrip", dependencies: ["Ledger", "Projector"], path: "Sources/Tools/Fuzz/RoundTrip"),
]

// The fault campaign's driver (scripts/chaos). It depends on no target of the package: it drives the built
// binaries as processes and judges them against an oracle of what was produced, so it never shares code with
// what it checks.
package.products += [.executable(name: "ledger-chaos", targets: ["LedgerChaos"])]
package.targets += [.executableTarget(name: "LedgerChaos", dependencies: [argumentParser], path: "Sources/Tools/Chaos")]
