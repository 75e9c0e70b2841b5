// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "chorus",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "chorus", targets: ["chorus"]),
        .executable(name: "chorus-bench", targets: ["chorus-bench"]),
        // For the separate Benchmarks/ package (package-benchmark needs a package of its own; its allocation gates
        // depend on these products by path): the entry points it calls are `public`, everything else stays
        // `package`.
        .library(name: "ChorusCore", targets: ["ChorusCore"]),
        .library(name: "ChorusNIO", targets: ["ChorusNIO"]),
        .library(name: "ChorusServer", targets: ["ChorusServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        // chorus-bench only: latency percentiles without bucketing error (written reason in Benchmarks/README.md).
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        // permessage-deflate (RFC 7692) on the system zlib.
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
    ],
    targets: [
        // The broadcast engine and the WebSocket protocol: NIOCore only, never NIOPosix.
        .target(
            name: "ChorusCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The NIO transport: the HTTP/1 pipeline with Chorus's WebSocket upgrader, which asks the server's
        // `NIOUpgradeDecider`, and one channel handler per upgraded Channel, carrying out the engine's actions.
        // NIOCore and NIOHTTP1, never NIOPosix, like ChorusCore: it runs on EmbeddedChannel in tests.
        .target(
            name: "ChorusNIO",
            dependencies: [
                "ChorusCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // A small RESP2/RESP3 client on SwiftNIO: exactly what cluster mode needs (AUTH, SELECT, PUBLISH,
        // SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PING, pushes). No Swift Redis client is available here.
        .target(
            name: "ChorusRedis",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The few Linux declarations Swift's Glibc module lacks: epoll, eventfd, accept4, send(MSG_NOSIGNAL), mallopt.
        .target(name: "CEpoll"),
        // The lean Linux transport (`--transport epoll`): epoll loops that are NIO event loops, so the engine's
        // hub and shards run on them unchanged; per-connection records beside the slab, no Channel per socket.
        .target(
            name: "ChorusEpoll",
            dependencies: [
                "ChorusCore",
                "CEpoll",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The server around the engine: sockets, HTTP/1, configuration, lifecycle, the cluster bus.
        .target(
            name: "ChorusServer",
            dependencies: [
                "ChorusCore",
                "ChorusEpoll",
                "ChorusNIO",
                "ChorusRedis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "chorus",
            dependencies: [
                "ChorusServer",
                // mallopt, which Swift's Glibc module lacks (see Chorus.returnLargeBuffersToTheSystem).
                "CEpoll",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The load generator: a lean NIO WebSocket client that measures memory, CPU per delivery and latency
        // of a running Chorus (Benchmarks/README.md). Talks to the server only over the network.
        .executableTarget(
            name: "chorus-bench",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The entry point the libFuzzer targets share: libFuzzer's driver under -sanitize=fuzzer -DCHORUS_FUZZER,
        // else a replay of the files named on the command line.
        .target(name: "FuzzEntry", swiftSettings: swiftSettings),
        // libFuzzer target for the frame decoder and UTF-8 validator: scripts/fuzz.sh builds it with
        // -sanitize=fuzzer; a plain build replays the files named on its command line.
        .executableTarget(
            name: "FrameFuzz",
            dependencies: [
                "ChorusCore",
                "FuzzEntry",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings + [.unsafeFlags(["-parse-as-library"])]
        ),
        // libFuzzer target for the RESP parser, built like FrameFuzz (scripts/fuzz.sh).
        .executableTarget(
            name: "RESPFuzz",
            dependencies: [
                "ChorusRedis",
                "FuzzEntry",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings + [.unsafeFlags(["-parse-as-library"])]
        ),
        // libFuzzer target for the epoll transport's request-head reader, checked against NIO's HTTP/1 decoder on
        // an EmbeddedChannel; built like FrameFuzz (scripts/fuzz.sh).
        .executableTarget(
            name: "HeadFuzz",
            dependencies: [
                "ChorusCore",
                "ChorusEpoll",
                "FuzzEntry",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings + [.unsafeFlags(["-parse-as-library"])]
        ),
        // libFuzzer target for the JSON scanner of the chorus.v1 protocol, checked against a recursive-descent
        // reference; built like FrameFuzz (scripts/fuzz.sh).
        .executableTarget(
            name: "JSONFuzz",
            dependencies: ["ChorusCore", "FuzzEntry"],
            swiftSettings: swiftSettings + [.unsafeFlags(["-parse-as-library"])]
        ),
        .testTarget(
            name: "ChorusRedisTests",
            dependencies: [
                "ChorusRedis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the test targets share (a test target cannot depend on another).
        .target(name: "ChorusTestSupport", path: "Tests/ChorusTestSupport", swiftSettings: swiftSettings),
        .testTarget(
            name: "ChorusCoreTests",
            dependencies: [
                "ChorusCore",
                "ChorusTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                // SHA1Tests checks Chorus's own SHA-1 against swift-crypto's.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ChorusNIOTests",
            dependencies: [
                "ChorusNIO",
                "ChorusTestSupport",
                "ChorusCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ChorusServerTests",
            dependencies: [
                "ChorusServer",
                "ChorusTestSupport",
                "ChorusCore",
                "ChorusEpoll",
                "ChorusNIO",
                "ChorusRedis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
