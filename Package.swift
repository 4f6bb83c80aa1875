// swift-tools-version:6.1
import PackageDescription

// Layers (STYLE.md "Proposed layout"): dependencies point one way, top to bottom.
//   ZKBase -> ZKWire -> ZKTree -> ZKPipeline -> ZKStorage -> ZKServer -> paddock
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Paddock",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "paddock", targets: ["paddock"]),
        // A native async Swift client for Paddock and Apache ZooKeeper 3.5+ (README "PaddockClient").
        .library(name: "PaddockClient", targets: ["PaddockClient"]),
        // The paper's coordination recipes on PaddockClient (README "PaddockRecipes").
        .library(name: "PaddockRecipes", targets: ["PaddockRecipes"]),
        // A Kafka-style controller on the recipes, in Kafka 2.8's znode layout (README "paddock-kafka-demo").
        .executable(name: "paddock-kafka-demo", targets: ["paddock-kafka-demo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CCRC32C"),
        .systemLibrary(name: "CMalloc"),
        .target(name: "ZKBase", dependencies: ["CCRC32C", "CZlib"], swiftSettings: strictSettings),
        .target(name: "ZKWire", dependencies: [
            "ZKBase", .product(name: "NIOCore", package: "swift-nio"),
        ], swiftSettings: strictSettings),
        .target(name: "ZKTree", dependencies: ["ZKBase", "ZKWire", "CMalloc"], swiftSettings: strictSettings),
        .target(name: "ZKPipeline", dependencies: ["ZKBase", "ZKWire", "ZKTree"], swiftSettings: strictSettings),
        // The ZAB core (election, discovery, sync, broadcast) as a pure value, and ZKSim, the
        // deterministic simulator that runs whole ensembles of it.
        .target(name: "ZKZab", dependencies: [
            "ZKBase", "ZKWire", .product(name: "NIOCore", package: "swift-nio"), .product(name: "DequeModule", package: "swift-collections"),
        ], swiftSettings: strictSettings),
        .target(name: "ZKSim", dependencies: [
            "ZKBase", "ZKWire", "ZKZab", "ZKTree", "ZKPipeline", .product(name: "HeapModule", package: "swift-collections"),
            .product(name: "NIOCore", package: "swift-nio"),
        ], swiftSettings: strictSettings),
        // The ZAB shell: election and quorum ports over SwiftNIO around a ZabNode and a ZabStore.
        .target(name: "ZKEnsemble", dependencies: [
            "ZKBase", "ZKWire", "ZKZab",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strictSettings),
        .target(name: "ZKConfig", dependencies: ["ZKBase"], swiftSettings: strictSettings),
        .target(name: "ZKFormat", dependencies: ["ZKBase", "ZKWire", "ZKTree", "CZlib"],
                exclude: ["FORMAT.md"], swiftSettings: strictSettings),
        .target(name: "ZKStorage", dependencies: [
            "ZKBase", "ZKWire", "ZKTree", "ZKFormat", "CLMDB", "CZlib", .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ], swiftSettings: strictSettings),
        .target(name: "ZKBench", dependencies: [
            "ZKBase", "ZKWire", "ZKTree", "ZKFormat", "ZKStorage", "CLMDB", "CZlib",
        ], swiftSettings: strictSettings),
        .target(name: "ZKLoad", dependencies: [
            "ZKBase", "ZKWire",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], swiftSettings: strictSettings),
        .target(name: "PaddockClient", dependencies: [
            "ZKBase", "ZKWire",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], swiftSettings: strictSettings),
        .target(name: "PaddockRecipes", dependencies: ["PaddockClient", "ZKBase"], swiftSettings: strictSettings),
        .executableTarget(name: "paddock-kafka-demo", dependencies: [
            "PaddockClient", "PaddockRecipes", "ZKBase",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strictSettings),
        .target(name: "ZKTools", dependencies: [
            "ZKBase", "ZKWire", "ZKTree", "ZKFormat", "ZKStorage", "CLMDB", "CZlib",
            .product(name: "NIOCore", package: "swift-nio"),
        ], swiftSettings: strictSettings),
        .target(name: "ZKServer", dependencies: [
            "ZKBase", "ZKWire", "ZKTree", "ZKPipeline", "ZKConfig", "ZKStorage", "CMalloc",
            "ZKZab", "ZKEnsemble", "ZKTools",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strictSettings),
        // Micro-benchmarks: `swift package benchmark --target ZKBenchmarks` (README "Micro-benchmarks").
        // MallocInterposer replaces the default trait, whose swift-runtime-interposer is not mirrored here.
        .executableTarget(name: "ZKBenchmarks", dependencies: [
            "ZKBase", "ZKWire", "ZKTree", "ZKFormat", "ZKStorage",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Benchmark", package: "benchmark"),
        ], path: "Benchmarks/ZKBenchmarks", plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        .executableTarget(name: "paddock", dependencies: [
            "ZKServer", "ZKConfig", "ZKBench", "ZKTools", "ZKLoad", "ZKEnsemble", "ZKZab", "ZKBase", "PaddockClient", "PaddockRecipes",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strictSettings),
        // Test helpers shared by several test targets (test targets cannot import each other).
        .target(name: "ZKTestSupport", dependencies: ["CLMDB", "ZKBase"], path: "Tests/ZKTestSupport"),
        .testTarget(name: "ZKBaseTests", dependencies: ["ZKBase"]),
        .testTarget(name: "ZKWireTests", dependencies: [
            "ZKBase", "ZKWire", .product(name: "NIOCore", package: "swift-nio"),
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZKTreeTests", dependencies: ["ZKBase", "ZKWire", "ZKTree"]),
        .testTarget(name: "ZKPipelineTests", dependencies: ["ZKBase", "ZKWire", "ZKTree", "ZKPipeline"]),
        .testTarget(name: "ZKZabTests", dependencies: ["ZKBase", "ZKZab", "ZKSim"]),
        // Real Apache ZooKeeper 3.8.0 quorum traffic (Fixtures/FIXTURES.md) through the codecs.
        .testTarget(name: "ZKQuorumTests", dependencies: [
            "ZKBase", "ZKWire", "ZKZab", "ZKTree", "ZKTools", .product(name: "NIOCore", package: "swift-nio"),
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZKConfigTests", dependencies: ["ZKBase", "ZKConfig"]),
        .testTarget(name: "ZKToolsTests", dependencies: [
            "ZKBase", "ZKWire", "ZKTree", "ZKFormat", "ZKStorage", "ZKTools", "CLMDB", "ZKTestSupport",
        ], exclude: ["Expected", "Fixtures"]),
        // Golden files are read from the source tree (#filePath), so later code is checked against them.
        .testTarget(name: "ZKFormatTests", dependencies: ["ZKBase", "ZKWire", "ZKTree", "ZKFormat"], exclude: ["Golden"]),
        .testTarget(name: "ZKStorageTests", dependencies: [
            "ZKBase", "ZKWire", "ZKTree", "ZKPipeline", "ZKFormat", "ZKStorage", "ZKTools", "CLMDB", "ZKTestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .testTarget(name: "PaddockClientTests", dependencies: [
            "PaddockClient", "PaddockRecipes", "ZKServer", "ZKConfig", "ZKWire", "ZKBase", "ZKTestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "MetricsTestKit", package: "swift-metrics"),
        ]),
        .testTarget(name: "ZKServerTests", dependencies: [
            "ZKServer", "ZKWire", "ZKBase", "ZKZab", "ZKFormat", "ZKPipeline", "ZKTestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "MetricsTestKit", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
    ]
)
