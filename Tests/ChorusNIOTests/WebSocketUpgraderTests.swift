import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import ChorusCore
@testable import ChorusNIO

@Suite("WebSocketUpgrader in the HTTP pipeline on EmbeddedChannel")
struct WebSocketUpgraderTests {
    /// Admits every request with `ticket`.
    private struct Admitting: NIOUpgradeDecider {
        let ticket: AdmissionTicket

        func decide(_ head: HTTPRequestHead, peer: SocketAddress?) -> Result<AdmissionTicket, any Error> {
            .success(self.ticket)
        }
    }

    /// Refuses every request with `Refusal`.
    private struct Refusing: NIOUpgradeDecider {
        func decide(_ head: HTTPRequestHead, peer: SocketAddress?) -> Result<AdmissionTicket, any Error> {
            .failure(Refusal())
        }
    }

    private struct Refusal: Error, Equatable {}

    /// Stands in for the server's HTTP handler: records what reaches it and leaves on an upgrade, as it does.
    private final class HTTPRecorder: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart

        var uris: [String] = []
        var errors: [any Error] = []

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let head) = self.unwrapInboundIn(data) { self.uris.append(head.uri) }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is HTTPServerUpgradeEvents {
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.errors.append(error)
        }
    }

    private static let request = ByteBuffer(
        string: "GET /ws/news HTTP/1.1\r\nHost: chorus\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )

    private func channel(
        _ loop: EmbeddedEventLoop,
        hub: Hub,
        decider: some NIOUpgradeDecider,
        http: HTTPRecorder
    ) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(loop: loop)
        try HTTPPipeline(maxRequestHeadBytes: 16 * 1024).configure(channel, hub: hub, decider: decider, http: http)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    @Test("an admitted upgrade: a 101 with the ticket's headers, the connection handler, places back when it goes")
    func admitted() throws {
        let loop = EmbeddedEventLoop()
        let hub = Hub(loops: [loop], settings: ShardSettings())
        let capacity = ConnectionCapacity(limit: 1)
        #expect(capacity.reserve())
        let accept = [UInt8](repeating: 0, count: 20).withUnsafeBytes { AcceptValue(encodingDigest: $0) }
        let ticket = AdmissionTicket(
            answer: SwitchingProtocols(accept: accept),
            wireProtocol: .native,
            channels: [try ChannelName(validating: "news")],
            grant: nil,
            tokenExpiry: nil,
            places: AdmissionPlaces(capacity: capacity, own: nil)
        )
        let http = HTTPRecorder()
        let channel = try self.channel(loop, hub: hub, decider: Admitting(ticket: ticket), http: http)
        try channel.writeInbound(Self.request)
        loop.run()
        var answer = ""
        while let part = try channel.readOutbound(as: ByteBuffer.self) { answer += String(buffer: part) }
        #expect(answer.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(answer.contains("\r\nSec-WebSocket-Accept: \(accept.string)\r\n"))
        #expect(http.uris.isEmpty && http.errors.isEmpty)
        // Throws unless the connection handler is in the pipeline.
        _ = try channel.pipeline.syncOperations.handler(type: WebSocketConnectionHandler.self)
        #expect(hub.shard(on: loop).connectionCount == 1 && hub.shard(on: loop).subscriptions == 1)
        #expect(capacity.taken == 1)
        try channel.close().wait()
        loop.run()
        #expect(capacity.taken == 0)
        #expect(hub.shard(on: loop).connectionCount == 0)
    }

    @Test("a refused upgrade reaches the HTTP handler as the decider's error, then as a plain request")
    func refused() throws {
        let loop = EmbeddedEventLoop()
        let hub = Hub(loops: [loop], settings: ShardSettings())
        let http = HTTPRecorder()
        let channel = try self.channel(loop, hub: hub, decider: Refusing(), http: http)
        try channel.writeInbound(Self.request)
        #expect(http.errors.count == 1 && http.errors.first is Refusal)
        #expect(http.uris == ["/ws/news"])
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(hub.shard(on: loop).connectionCount == 0)
        _ = try channel.finish(acceptAlreadyClosed: true)
    }
}
