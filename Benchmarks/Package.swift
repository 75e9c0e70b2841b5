// swift-tools-version:6.1
import PackageDescription

// Allocation gates for Chorus (package-benchmark). A separate package so the server never depends on the
// benchmark tooling; it reaches the engine through the root package's `ChorusCore`, `ChorusNIO` and
// `ChorusServer` library products. Run from this directory: `swift package benchmark`, or
// `scripts/check-benchmarks.sh`.
let package = Package(
    name: "chorus-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "chorus", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "ChorusAllocations",
            dependencies: [
                .product(name: "ChorusCore", package: "chorus"),
                .product(name: "ChorusNIO", package: "chorus"),
                .product(name: "ChorusServer", package: "chorus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ChorusAllocations",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        )
    ]
)
