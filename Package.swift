// swift-tools-version:6.0
// Pulse Ledger: an event-sourced transaction ledger (Kafka → LZ4 write-ahead log → PostgreSQL warehouse).
//
// One target per folder, named like it, and the folders read as the data path (docs/ARCHITECTURE.md):
//   Sources/Ingest:    KafkaClient → Ingest → LedgerIngest        (DevelopmentBroker beside them)
//   Sources/Ledger:    MessageSchema → Ledger                     (ServiceKit, LedgerTesting beside them)
//   Sources/Projector: Projector → PostgresClient, LedgerProjector
//   Sources/Tools:     ledger-tool, the benchmarks, the fault campaign, the fuzzers
//   Sources/C*:        one system-library target per C library, each imported by one folder of one module
import PackageDescription

let cLibraries: [Target] = [
    .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
    .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
    .systemLibrary(name: "CRDKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
    .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
    .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
]

let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let metrics: Target.Dependency = .product(name: "Metrics", package: "swift-metrics")
let serviceLifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let flyingSocks: Target.Dependency = .product(name: "FlyingSocks", package: "FlyingFox")

/// What both services stand on: the message's schema, the ledger library, the services' kit, testing support.
let ledgerFolder: [Target] = [
    // The one shape of an operating error (code + message + context), which every area's errors take.
    .target(name: "OperatingErrors", path: "Sources/Ledger/OperatingErrors"),
    // The Kafka message's schema: validation, the values it yields (Transaction, Rejection), and where a message
    // comes from (TopicPartition). No I/O.
    .target(name: "MessageSchema", path: "Sources/Ledger/MessageSchema"),
    // An S3-compatible object store through libcurl (which signs the requests): the one module that imports
    // CCurl. The archive's s3:// target.
    .target(
        name: "ObjectStore",
        dependencies: ["OperatingErrors", "CCurl", .product(name: "Crypto", package: "swift-crypto")],
        path: "Sources/Ledger/ObjectStore"),
    // The write-ahead log: segment format, writer, recovery, reader, SQLite index, maintenance, archive.
    .target(
        name: "Ledger",
        dependencies: [
            "OperatingErrors", "MessageSchema", "ObjectStore", "CLZ4", "CSQLite", logging,
            .product(name: "Crypto", package: "swift-crypto"),
        ],
        path: "Sources/Ledger/Ledger"),
    // Metrics endpoint, logs, stop signals: what ledger-ingest and ledger-projector share as processes.
    .target(
        name: "ServiceKit",
        dependencies: [
            argumentParser, logging, metrics, serviceLifecycle,
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "FlyingFox", package: "FlyingFox"),
            .product(name: "Configuration", package: "swift-configuration"),
        ],
        path: "Sources/Ledger/ServiceKit"),
    // For tests, benchmarks and the tools that make loads: the message generator, the fault-injecting file
    // system, scratch directories, child processes and free ports. Never a dependency of a library.
    .target(
        name: "LedgerTesting", dependencies: ["Ledger", "MessageSchema", "ObjectStore"],
        path: "Sources/Ledger/LedgerTesting"),
]

/// Kafka → ledger.
let ingestFolder: [Target] = [
    // librdkafka behind Swift types: the one module that imports CRDKafka for clients.
    .target(
        name: "KafkaClient", dependencies: ["OperatingErrors", "MessageSchema", "CRDKafka", logging],
        path: "Sources/Ingest/KafkaClient"),
    // librdkafka's mock cluster as a Kafka-protocol broker on real TCP ports (`ledger-tool dev-broker`).
    .target(
        name: "DevelopmentBroker", dependencies: ["OperatingErrors", "KafkaClient", "CRDKafka", logging, flyingSocks],
        path: "Sources/Ingest/DevelopmentBroker"),
    .target(
        name: "Ingest",
        dependencies: [
            "OperatingErrors", "KafkaClient", "Ledger", "MessageSchema", "ServiceKit", logging, metrics,
            serviceLifecycle,
        ],
        path: "Sources/Ingest/Ingest"),
    // The hidden --inject-fault option (the fault campaign's) takes the fault-injecting file system.
    .executableTarget(
        name: "LedgerIngest",
        dependencies: ["Ingest", "Ledger", "LedgerTesting", "ServiceKit", argumentParser, logging, serviceLifecycle],
        path: "Sources/Ingest/LedgerIngest"),
]

/// Ledger → PostgreSQL.
let projectorFolder: [Target] = [
    // libpq behind Swift types: the one module that imports CLibPQ.
    .target(
        name: "PostgresClient", dependencies: ["OperatingErrors", "CLibPQ"], path: "Sources/Projector/PostgresClient"),
    // Follow, transform, load, schema, rebuild. The migrations are schema/*.sql, embedded at build time through
    // the symbolic link Schema/Migrations: the files are their only copy.
    .target(
        name: "Projector",
        dependencies: [
            "OperatingErrors", "Ledger", "MessageSchema", "PostgresClient", "ServiceKit", logging, metrics,
            serviceLifecycle,
        ],
        path: "Sources/Projector/Projector", resources: [.embedInCode("Schema/Migrations")]),
    .executableTarget(
        name: "LedgerProjector",
        dependencies: ["Projector", "PostgresClient", "ServiceKit", argumentParser, logging, serviceLifecycle],
        path: "Sources/Projector/LedgerProjector"),
]

let toolsFolder: [Target] = [
    .executableTarget(
        name: "LedgerTool",
        dependencies: [
            "Ledger", "MessageSchema", "LedgerTesting", "KafkaClient", "DevelopmentBroker", "Ingest", "Projector",
            "PostgresClient", "DeliveryRecord", "ServiceKit",
            argumentParser, logging, .product(name: "ConsoleKitTerminal", package: "console-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
        ],
        path: "Sources/Tools/LedgerTool"),
    .executableTarget(
        name: "LedgerBench",
        dependencies: [
            "Ledger", "MessageSchema", "LedgerTesting", "KafkaClient", "Ingest", "Projector", argumentParser, logging,
        ],
        path: "Sources/Tools/Benchmarks"),
    // libFuzzer targets (scripts/fuzz; build flags in shared/design/TOOLCHAIN.md); they reach internals through
    // `package` access, never through public API.
    .executableTarget(name: "FuzzValidator", dependencies: ["MessageSchema"], path: "Sources/Tools/Fuzz/Validator"),
    .executableTarget(name: "FuzzSegment", dependencies: ["Ledger"], path: "Sources/Tools/Fuzz/Segment"),
    // Across the seams: validator → codec → frame → reader → projector transform → COPY encoding.
    .executableTarget(
        name: "FuzzRoundTrip", dependencies: ["Ledger", "MessageSchema", "Projector", "PostgresClient"],
        path: "Sources/Tools/Fuzz/RoundTrip"),
    // The fault campaign's driver (scripts/chaos). It depends on no target of the package: it drives the built
    // binaries as processes and judges them against an oracle of its own, so it never shares code with what it
    // checks.
    // The line format of `ledger-tool produce --record`, which the fault campaign's oracle reads.
    .target(name: "DeliveryRecord", path: "Sources/Tools/DeliveryRecord"),
    .executableTarget(
        name: "LedgerChaos", dependencies: ["DeliveryRecord", argumentParser], path: "Sources/Tools/Chaos"),
]

let testTargets: [Target] = [
    .testTarget(
        name: "MessageSchemaTests", dependencies: ["MessageSchema", "LedgerTesting"], path: "Tests/MessageSchemaTests"),
    .testTarget(
        name: "LedgerTests", dependencies: ["Ledger", "MessageSchema", "LedgerTesting", "ObjectStore"],
        path: "Tests/LedgerTests"),
    .testTarget(
        name: "IngestTests", dependencies: ["Ingest", "KafkaClient", "Ledger", "MessageSchema", "LedgerTesting"],
        path: "Tests/IngestTests"),
    .testTarget(
        name: "ProjectorTests",
        dependencies: ["Projector", "PostgresClient", "Ledger", "MessageSchema", "LedgerTesting"],
        path: "Tests/ProjectorTests"),
]

let package = Package(
    name: "pulse-ledger",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ledger-tool", targets: ["LedgerTool"]),
        .executable(name: "ledger-ingest", targets: ["LedgerIngest"]),
        .executable(name: "ledger-projector", targets: ["LedgerProjector"]),
        .executable(name: "ledger-bench", targets: ["LedgerBench"]),
        .executable(name: "ledger-chaos", targets: ["LedgerChaos"]),
        .executable(name: "fuzz-validator", targets: ["FuzzValidator"]),
        .executable(name: "fuzz-segment", targets: ["FuzzSegment"]),
        .executable(name: "fuzz-roundtrip", targets: ["FuzzRoundTrip"]),
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
        // The one configuration layer of the three binaries: environment, *_FILE secrets, a JSON file.
        .package(url: "https://github.com/apple/swift-configuration", from: "1.0.0"),
    ],
    targets: cLibraries + ledgerFolder + ingestFolder + projectorFolder + toolsFolder + testTargets
)
