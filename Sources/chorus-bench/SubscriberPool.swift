import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Opens WebSocket subscriber connections with a bounded number in flight, spread over source addresses
/// 127.0.0.1 … 127.0.0.N (each address has its own ephemeral port range, so N × ~28,000 connections fit).
// @unchecked: `bootstraps` are configured in init and only read afterwards (connect copies what it needs);
// everything that changes is in the locked `state`.
final class SubscriberPool: @unchecked Sendable {
    private let target: BenchTarget
    private let bootstraps: [ClientBootstrap]
    private let request: ByteBuffer
    private let wireProtocol: WireProtocol
    private let state = NIOLockedValueBox(State())
    private let finished: EventLoopPromise<Void>

    private struct State {
        var total = 0
        var started = 0
        var connected = 0
        var failed = 0
        var channels: [any Channel] = []
    }

    /// Progress so far, for the live line and the summary.
    struct Progress: Sendable {
        var connected: Int
        var failed: Int
        var total: Int
    }

    init(
        group: any EventLoopGroup,
        target: BenchTarget,
        protocol wireProtocol: WireProtocol,
        sourceAddresses: Int,
        receiveBufferBytes: Int,
        connectTimeout: TimeAmount,
        registry: StatisticsRegistry
    ) throws {
        self.target = target
        self.wireProtocol = wireProtocol
        self.finished = group.next().makePromise()
        var request = ByteBufferAllocator().buffer(capacity: 256)
        request.writeString(
            "GET \(target.path) HTTP/1.1\r\nHost: \(target.host):\(target.port)\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        )
        if let subprotocol = wireProtocol.subprotocol {
            request.writeString("Sec-WebSocket-Protocol: \(subprotocol)\r\n")
        }
        request.writeString("\r\n")
        self.request = request
        let sources = try (1...max(1, sourceAddresses)).map { index -> SocketAddress? in
            sourceAddresses <= 1 ? nil : try SocketAddress(ipAddress: "127.0.0.\(index)", port: 0)
        }
        self.bootstraps = sources.map { source in
            let bootstrap = ClientBootstrap(group: group)
                .connectTimeout(connectTimeout)
                .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                // A fixed, small receive buffer: NIO keeps one per channel for the channel's life.
                .channelOption(
                    ChannelOptions.recvAllocator,
                    value: FixedSizeRecvByteBufferAllocator(capacity: receiveBufferBytes)
                )
            if let source { _ = bootstrap.bind(to: source) }
            return bootstrap
        }
        self.installInitializers(registry: registry)
    }

    /// ClientBootstrap is a class: the initializer is installed on the shared objects once all of self exists.
    private func installInitializers(registry: StatisticsRegistry) {
        let shared = self.request
        let wireProtocol = self.wireProtocol
        let subprotocol = Array((wireProtocol.subprotocol ?? "").utf8)
        for bootstrap in self.bootstraps {
            _ = bootstrap.channelInitializer { [unowned self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = SubscriberHandler(
                        request: shared,
                        protocol: wireProtocol,
                        subprotocol: subprotocol,
                        statistics: registry.statistics(on: channel.eventLoop),
                        onOutcome: { channel in self.finish(channel) }
                    )
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        }
    }

    /// Opens `count` connections, at most `window` in flight; the future completes when each has upgraded or failed.
    func connect(count: Int, window: Int) -> EventLoopFuture<Void> {
        let first = self.state.withLockedValue { state in
            state.total = count
            state.channels.reserveCapacity(count)
            return min(window, count)
        }
        if count == 0 { self.finished.succeed() }
        for _ in 0..<first { self.startNext() }
        return self.finished.futureResult
    }

    var progress: Progress {
        self.state.withLockedValue { Progress(connected: $0.connected, failed: $0.failed, total: $0.total) }
    }

    /// Closes every connection and waits for the closes.
    func closeAll() -> EventLoopFuture<Void> {
        let channels = self.state.withLockedValue { state in
            defer { state.channels = [] }
            return state.channels
        }
        let closes = channels.map { $0.close() }
        return EventLoopFuture.whenAllComplete(closes, on: self.finished.futureResult.eventLoop).map { _ in () }
    }

    private func startNext() {
        let index: Int? = self.state.withLockedValue { state in
            guard state.started < state.total else { return nil }
            defer { state.started += 1 }
            return state.started
        }
        guard let index else { return }
        let bootstrap = self.bootstraps[index % self.bootstraps.count]
        bootstrap.connect(host: self.target.host, port: self.target.port).whenFailure { [weak self] _ in
            self?.finish(nil)
        }
    }

    /// One connection's outcome: upgraded (`channel`) or failed (nil). Starts the next connection.
    private func finish(_ channel: (any Channel)?) {
        let done = self.state.withLockedValue { state in
            if let channel {
                state.connected += 1
                state.channels.append(channel)
            } else {
                state.failed += 1
            }
            return state.connected + state.failed == state.total
        }
        if done { self.finished.succeed() } else { self.startNext() }
    }
}
