// Allocation gates (issue 6, STYLE.md §10): `mallocCountTotal` per operation, checked against the committed
// thresholds in Benchmarks/Thresholds/<toolchain>/ by scripts/check-benchmarks.sh. Wall-clock time is measured
// for information only and is never part of a threshold.
//
// Every benchmark runs on one EmbeddedEventLoop, built lazily inside the first (warm-up) iteration: the loop
// only accepts calls from the thread that created it, and package-benchmark runs `setup` hooks on another
// thread than the iterations. Nothing built before `startMeasurement()` is counted.
//
// Benchmark names contain no spaces or slashes: package-benchmark 1.38.1 writes threshold files with those
// replaced by `_` but looks them up by the raw name, so such a benchmark would silently go unchecked.

import Benchmark
import ChorusCore
import ChorusNIO
import ChorusServer
import NIOCore
import NIOEmbedded

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.mallocCountTotal, .wallClock],
        timeUnits: .microseconds,
        warmupIterations: 5,
        scalingFactor: .one,
        maxDuration: .seconds(1),
        maxIterations: 1_000,
        // Allocation counts are exact: any change at p90 is a regression (exit 2) or an improvement that must
        // lower the committed threshold (exit 4).
        thresholds: [.mallocCountTotal: BenchmarkThresholds(absolute: [.p90: 0])]
    )

    // MARK: Publish to N subscribers

    // One 64-byte text message through Hub.publish, the loop run, and every subscriber's outbound drained.
    // N EmbeddedChannels share one loop and one shard, each with a WebSocketConnectionHandler subscribed to
    // the channel; the hub has the server's metrics observer. The count must not depend on N.
    for subscribers in [1, 100, 1_000, 10_000] {
        let fixture = Lazy { try PublishFixture(subscribers: subscribers) }
        Benchmark("publish_64B_to_\(subscribers)_subscribers") { benchmark in
            let fixture = try fixture.get()
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                fixture.publishAndDrain()
            }
        }
    }

    // The same to `chorus.v1` subscribers: one more encoding per publish (the envelope), none per subscriber. With
    // history on, the message is also kept (a ring slot, the stream's bookkeeping): a constant per publish.
    for (subscribers, history) in [(1, 0), (1_000, 0), (1, 100), (1_000, 100)] {
        let fixture = Lazy { try PublishFixture(subscribers: subscribers, chorusV1: true, history: history) }
        let name = "publish_64B_chorus_v1\(history > 0 ? "_history" : "")_to_\(subscribers)_subscribers"
        Benchmark(name) { benchmark in
            let fixture = try fixture.get()
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                fixture.publishAndDrain()
            }
        }
    }

    // The same over real loopback sockets on the epoll transport: a server in this process with one loop, N
    // subscribers and a keep-alive publisher on plain blocking sockets that allocate nothing. One iteration is one
    // POST /publish (the NIO HTTP side included), the fan-out through the corked sends, and every frame read.
    // The count must not depend on N. (At most 1,000 subscribers: client and server share the 20,000-descriptor
    // limit of this process.)
    // The count per publish moves in steps of 5 between runs and iterations (48, 53 and 58 seen, for any N; one
    // more than before the HTTP side's endpoints answered through a callback): the NIO HTTP side's answer takes a
    // shorter path when the fan-out's future is already complete, which depends on thread timing. So the threshold allows 10 either way; one allocation per subscriber would add 100 or 1,000.
    #if os(Linux)
        var epollConfiguration = Benchmark.defaultConfiguration
        epollConfiguration.thresholds = [.mallocCountTotal: BenchmarkThresholds(absolute: [.p90: 10])]
        for subscribers in [1, 100, 1_000] {
            let fixture = Lazy { try EpollPublishFixture(subscribers: subscribers) }
            Benchmark("epoll_publish_64B_to_\(subscribers)_subscribers", configuration: epollConfiguration) {
                benchmark in
                let fixture = try fixture.get()
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    fixture.publishAndReceive()
                }
            }
        }
    #endif

    // One connection's life on the epoll transport, against the same in-process server (100 subscribers on
    // the channel): connect, upgrade, subscribe, close handshake, socket closed. 0: the request head is read where
    // it lies (`RequestHeadView`), the accept value hashed by Chorus's own SHA-1 and held inline, the 101 written
    // from a per-loop buffer, the channel list inline and the close frame's buffer returned to the pool unshared
    // (56 at first, 13, then 4: NIO's `HTTPRequestHead` and swift-crypto's SHA-1 context). No tolerance: one
    // allocation per connection is the regression this gate is for, and the count is the same in every
    // iteration.
    #if os(Linux)
        var lifecycleConfiguration = Benchmark.defaultConfiguration
        lifecycleConfiguration.thresholds = [.mallocCountTotal: BenchmarkThresholds(absolute: [.p90: 0])]
        let epollLifecycle = Lazy { try EpollPublishFixture(subscribers: 100) }
        Benchmark("epoll_connection_lifecycle", configuration: lifecycleConfiguration) { benchmark in
            let fixture = try epollLifecycle.get()
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                try fixture.connectionLifecycle()
            }
        }
    #endif

    // The harness's own share of the publish benchmark: draining N empty outbound buffers.
    for subscribers in [1, 10_000] {
        let fixture = Lazy { try PublishFixture(subscribers: subscribers) }
        Benchmark("drain_only_\(subscribers)_subscribers") { benchmark in
            let fixture = try fixture.get()
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                fixture.drain()
            }
        }
    }

    // MARK: Frame encoding

    // Frame.init: FrameEncoder.encode into one exactly sized buffer (what Hub.publish does once per message).
    for (label, size) in [("64B", 64), ("1KiB", 1024), ("64KiB", 64 * 1024)] {
        Benchmark("Frame.init_\(label)") { benchmark in
            let payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: size)
            let allocator = ByteBufferAllocator()
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(Frame(opcode: .text, payload: payload))
            }
        }
    }

    // MARK: Connection lifecycle

    // One connection, as after an upgrade: an active EmbeddedChannel, the handler added with one channel (which
    // already has 100 other subscribers), a masked Close from the peer, the echo read, the socket closed and
    // the block released.
    let lifecycle = Lazy { try LifecycleFixture() }
    Benchmark("connection_lifecycle") { benchmark in
        let fixture = try lifecycle.get()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try fixture.connectionLifecycle()
        }
    }

    // The same steps with no handler: what EmbeddedChannel itself allocates per connection.
    let bareLifecycle = Lazy { try LifecycleFixture() }
    Benchmark("connection_lifecycle_EmbeddedChannel_only") { benchmark in
        let fixture = try bareLifecycle.get()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try fixture.bareChannelLifecycle()
        }
    }

    // MARK: /metrics

    // One scrape rendered by MetricsExporter with 100 connections open on 10 channels. It reads /proc and
    // formats the text, so its count moves by one or two between runs (85 or 86 seen): allow 4.
    let scrape = Lazy { try ScrapeFixture(connections: 100) }
    var scrapeConfiguration = Benchmark.defaultConfiguration
    scrapeConfiguration.thresholds = [.mallocCountTotal: BenchmarkThresholds(absolute: [.p90: 4])]
    Benchmark("metrics_scrape_100_connections", configuration: scrapeConfiguration) { benchmark in
        let fixture = try scrape.get()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            fixture.render()
        }
    }
}

// MARK: - Fixtures

/// Builds its value on first use and insists that every later use comes from the same thread.
final class Lazy<Value> {
    private let make: () throws -> Value
    private var value: Value?
    private var thread: pthread_t?

    init(_ make: @escaping () throws -> Value) {
        self.make = make
    }

    func get() throws -> Value {
        if let value, let thread {
            precondition(pthread_equal(thread, pthread_self()) != 0, "benchmark iterations moved to another thread")
            return value
        }
        let value = try self.make()
        self.value = value
        self.thread = pthread_self()
        return value
    }
}

enum Fixtures {
    static let peer = try! SocketAddress(ipAddress: "127.0.0.1", port: 1)

    /// An active channel whose only handler is the connection handler, as after a real upgrade.
    static func connect(
        _ hub: Hub,
        _ loop: EmbeddedEventLoop,
        channels: [ChannelName],
        chorusV1: Bool = false
    ) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(loop: loop)
        try channel.connect(to: Self.peer).wait()
        let shard = hub.shard(on: loop)
        let handler =
            chorusV1
            ? WebSocketConnectionHandler(hub: hub, shard: shard, chorusV1Channels: channels)
            : WebSocketConnectionHandler(hub: hub, shard: shard, channels: channels)
        try channel.pipeline.syncOperations.addHandler(handler)
        return channel
    }
}

final class PublishFixture {
    let loop = EmbeddedEventLoop()
    let hub: Hub
    let channel: ChannelName
    let payload = ByteBuffer(repeating: UInt8(ascii: "m"), count: 64)
    var subscribers: [EmbeddedChannel] = []

    init(subscribers count: Int, chorusV1: Bool = false, history: Int = 0) throws {
        var settings = ShardSettings()
        settings.keepHistory(messages: history)
        self.hub = Hub(loops: [self.loop], settings: settings, observer: ChorusMetrics(version: "benchmark"))
        self.channel = try ChannelName(validating: "bench")
        self.subscribers.reserveCapacity(count)
        for _ in 0..<count {
            self.subscribers.append(
                try Fixtures.connect(self.hub, self.loop, channels: [self.channel], chorusV1: chorusV1)
            )
        }
        self.loop.run()
        if chorusV1 {
            // Each subscription was answered ({"subscribed":…}).
            for subscriber in self.subscribers {
                let answer = try subscriber.readOutbound(as: ByteBuffer.self)
                precondition(answer != nil, "subscription not answered")
            }
        }
        // One checked publish: every subscriber gets the same frame, exactly once.
        let delivered = self.hub.publish(self.payload, opcode: .text, to: self.channel, source: .http, on: self.loop)
        self.loop.run()
        var expected = ByteBuffer(bytes: [0x81, 64])
        expected.writeImmutableBuffer(self.payload)
        var shared: ByteBuffer?
        for subscriber in self.subscribers where chorusV1 {
            let frame = try subscriber.readOutbound(as: ByteBuffer.self)!
            precondition(String(buffer: frame).contains(#""channel":"bench","offset":1,"#), "not a chorus.v1 delivery")
            precondition(shared == nil || shared == frame, "chorus.v1 subscribers got different frames")
            shared = frame
            let again = try subscriber.readOutbound(as: ByteBuffer.self)
            precondition(again == nil, "frame delivered twice")
        }
        for subscriber in self.subscribers where !chorusV1 {
            let first = try subscriber.readOutbound(as: ByteBuffer.self)
            let second = try subscriber.readOutbound(as: ByteBuffer.self)
            precondition(first == expected && second == nil, "frame not delivered exactly once")
        }
        let count = try delivered.wait()
        precondition(count == self.subscribers.count, "delivered to the wrong number of subscribers")
    }

    /// One publish, measured: encode, hop to the shard, write and flush to every subscriber, drain.
    func publishAndDrain() {
        let delivered = self.hub.publish(self.payload, opcode: .text, to: self.channel, source: .http, on: self.loop)
        self.loop.run()
        self.drain()
        blackHole(delivered)
    }

    /// Takes every queued frame out of every subscriber's outbound buffer.
    func drain() {
        for subscriber in self.subscribers {
            while let frame = try! subscriber.readOutbound(as: ByteBuffer.self) {
                blackHole(frame)
            }
        }
    }
}

final class LifecycleFixture {
    let loop = EmbeddedEventLoop()
    let hub: Hub
    let channel: ChannelName
    /// A masked Close with code 1000, as a browser sends it.
    let closeFrame: ByteBuffer
    var residents: [EmbeddedChannel] = []

    init() throws {
        self.hub = Hub(loops: [self.loop], settings: ShardSettings(), observer: ChorusMetrics(version: "benchmark"))
        self.channel = try ChannelName(validating: "bench")
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        let payload: [UInt8] = [0x03, 0xE8]
        self.closeFrame = ByteBuffer(bytes: [0x88, 0x80 | 2] + mask + [payload[0] ^ mask[0], payload[1] ^ mask[1]])
        for _ in 0..<100 {
            self.residents.append(try Fixtures.connect(self.hub, self.loop, channels: [self.channel]))
        }
        // Check the measured path once: afterwards a publish reaches the 100 residents only.
        try self.connectionLifecycle()
        let delivered = self.hub.publish(
            ByteBuffer(string: "x"),
            opcode: .text,
            to: self.channel,
            source: .http,
            on: self.loop
        )
        self.loop.run()
        let count = try delivered.wait()
        precondition(count == 100, "the connection was not released")
        for resident in self.residents {
            while try resident.readOutbound(as: ByteBuffer.self) != nil {}
        }
    }

    func connectionLifecycle() throws {
        let channel = EmbeddedChannel(loop: self.loop)
        channel.connect(to: Fixtures.peer, promise: nil)
        let handler = WebSocketConnectionHandler(
            hub: self.hub,
            shard: self.hub.shard(on: self.loop),
            channels: [self.channel]
        )
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.writeInbound(self.closeFrame)
        let echo = try channel.readOutbound(as: ByteBuffer.self)
        self.loop.run()
        precondition(echo?.readableBytes == 4 && !channel.isActive, "close handshake did not complete")
        _ = try channel.finish(acceptAlreadyClosed: true)
    }

    func bareChannelLifecycle() throws {
        let channel = EmbeddedChannel(loop: self.loop)
        channel.connect(to: Fixtures.peer, promise: nil)
        channel.close(promise: nil)
        self.loop.run()
        precondition(!channel.isActive, "channel did not close")
        _ = try channel.finish(acceptAlreadyClosed: true)
    }
}

final class ScrapeFixture {
    let loop = EmbeddedEventLoop()
    let hub: Hub
    let exporter: MetricsExporter
    var connections: [EmbeddedChannel] = []

    init(connections count: Int) throws {
        let metrics = ChorusMetrics(version: "benchmark")
        self.hub = Hub(loops: [self.loop], settings: ShardSettings(), observer: metrics)
        self.exporter = MetricsExporter(metrics: metrics, hub: self.hub, state: ServerState())
        let names = try (0..<10).map { try ChannelName(validating: "channel-\($0)") }
        for index in 0..<count {
            self.connections.append(try Fixtures.connect(self.hub, self.loop, channels: [names[index % names.count]]))
        }
        for name in names {
            _ = self.hub.publish(ByteBuffer(string: "hello"), opcode: .text, to: name, source: .http, on: self.loop)
        }
        self.loop.run()
        // The first scrape registers the per-scrape histogram; check it counts what is open.
        let first = self.exporter.render(on: self.loop)
        self.loop.run()
        let text = try String(buffer: first.wait())
        let open = text.split(separator: "\n").first { $0.hasPrefix("chorus_connections ") }
            .flatMap { Double($0.dropFirst("chorus_connections ".count)) }
        precondition(open == Double(count), "scrape does not show the open connections")
    }

    func render() {
        let scrape = self.exporter.render(on: self.loop)
        self.loop.run()
        blackHole(scrape)
    }
}
