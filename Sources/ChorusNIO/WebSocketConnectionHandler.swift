import ChorusCore
import NIOCore

/// The one handler in an upgraded connection's pipeline: raw bytes in, decoded by `InboundFrameDecoder`,
/// control messages acted on; shared frames out through the `ConnectionSink` seam.
///
/// Its state is deliberately small (see "What SwiftNIO costs per connection" in DESIGN.md): settings live in
/// the shard, the connection's subscriptions and counters in its metadata block.
public final class WebSocketConnectionHandler: ChannelInboundHandler, ConnectionSink {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let hub: Hub
    private let shard: Shard
    private let wireProtocol: WireProtocol
    /// The permessage-deflate window negotiated at the upgrade (9...15), 0 for none. A byte next to
    /// `wireProtocol`, in what was padding: connections without compression pay nothing for it.
    private let deflateWindowBits: UInt8
    /// The token's permissions; nil when the server runs without tokens (then every channel is allowed).
    private let grant: ChannelGrant?
    private var initialChannels: ChannelList
    /// Where a `chorus.v1` connection recovers its initial channels from (`?since=…&epoch=…`).
    private let since: StreamPosition?
    private var tokenExpiry: NIODeadline?
    /// The places the connection's admission took, released when it goes (nil: none were taken).
    private var places: AdmissionPlaces?
    private var context: ChannelHandlerContext?
    private var id: ConnectionID?
    private var decoder: InboundFrameDecoder
    private var machine = WebSocketConnectionStateMachine()
    private var closeReason: CloseReason?
    /// A pong is written but NIO has not reported it sent (RFC 6455 §5.5.3: later pings replace its successor).
    private var pongInFlight = false
    /// The answer to the latest ping that came while a pong was unwritten.
    private var waitingPong: ByteBuffer?

    /// A subscriber connection speaking the native protocol, without token or compression, that holds no
    /// admission places (for embedding and benchmarks).
    ///
    /// - Parameter channels: channels to subscribe to as soon as the handler is added.
    public convenience init(hub: Hub, shard: Shard, channels: [ChannelName]) {
        self.init(
            hub: hub,
            shard: shard,
            wireProtocol: .native,
            channels: ChannelList(channels),
            since: nil,
            grant: nil,
            deflate: nil,
            tokenExpiry: nil,
            places: nil
        )
    }

    /// A subscriber connection speaking `chorus.v1` (its subscriptions answered, deliveries in envelopes), without
    /// token or compression, that holds no admission places (for embedding and benchmarks).
    public convenience init(hub: Hub, shard: Shard, chorusV1Channels channels: [ChannelName]) {
        self.init(
            hub: hub,
            shard: shard,
            wireProtocol: .chorusV1,
            channels: ChannelList(channels),
            since: nil,
            grant: nil,
            deflate: nil,
            tokenExpiry: nil,
            places: nil
        )
    }

    /// The connection an admission ticket describes; the handler releases the ticket's places when it goes.
    package convenience init(hub: Hub, shard: Shard, ticket: AdmissionTicket) {
        self.init(
            hub: hub,
            shard: shard,
            wireProtocol: ticket.wireProtocol,
            channels: ticket.channels,
            since: ticket.since,
            grant: ticket.grant,
            deflate: ticket.deflate,
            tokenExpiry: ticket.tokenExpiry,
            places: ticket.places
        )
    }

    package init(
        hub: Hub,
        shard: Shard,
        wireProtocol: WireProtocol,
        channels: ChannelList,
        since: StreamPosition?,
        grant: ChannelGrant?,
        deflate: DeflateParameters?,
        tokenExpiry: NIODeadline?,
        places: AdmissionPlaces?
    ) {
        self.hub = hub
        self.shard = shard
        self.wireProtocol = wireProtocol
        self.grant = grant
        self.deflateWindowBits = deflate?.serverMaxWindowBits ?? 0
        self.initialChannels = channels
        self.since = since
        self.tokenExpiry = tokenExpiry
        self.places = places
        self.decoder = InboundFrameDecoder(maxMessageBytes: shard.settings.maxMessageBytes)
        if deflate != nil {
            // RSV1 marks a compressed message (RFC 7692 §6).
            self.decoder.allowedReservedBits = 0x40
        }
    }

    /// The connection's channel while the handler is in its pipeline (for inspection on its loop).
    package var channel: (any Channel)? { self.context?.channel }

    public func handlerAdded(context: ChannelHandlerContext) {
        // Must run on the shard's loop: the slab is not locked.
        precondition(context.eventLoop === self.shard.eventLoop, "handler added on a loop that is not its shard's")
        self.context = context
        let id = self.shard.register(self)
        self.id = id
        self.shard.setWritable(id, context.channel.isWritable)
        ConnectionEngine.opened(
            id,
            wireProtocol: self.wireProtocol,
            deflateWindowBits: self.deflateWindowBits,
            channels: self.initialChannels,
            since: self.since,
            tokenExpiry: self.tokenExpiry.take(),
            shard: self.shard,
            hub: self.hub
        )
        self.initialChannels = []
        if !context.channel.isActive {
            self.connectionGone()
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.connectionGone()
        self.context = nil
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.connectionGone()
        context.fireChannelInactive()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let id = self.id {
            self.shard.setWritable(id, context.channel.isWritable)
        }
        context.fireChannelWritabilityChanged()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // An I/O error (reset, broken pipe): nothing more can be sent.
        if self.closeReason == nil { self.closeReason = .error }
        context.close(promise: nil)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let id = self.id else { return }
        var input = Self.unwrapInboundIn(data)
        var connection = Connection(handler: self, context: context)
        // Out of the handler while the engine uses it: a release during an event must not touch it.
        var decoder = self.decoder
        self.decoder = InboundFrameDecoder(maxMessageBytes: decoder.maxMessageBytes)
        ConnectionEngine.received(
            &input,
            decoder: &decoder,
            id: id,
            shard: self.shard,
            hub: self.hub,
            connection: &connection
        )
        if !connection.isReleased {
            self.decoder = decoder
        }
    }

    /// Writes a pong and remembers that it is unwritten until NIO reports it written; a ping answered meanwhile
    /// leaves its pong in `waitingPong` (replacing any earlier one), written next.
    private func writePong(_ pong: ByteBuffer, _ context: ChannelHandlerContext) {
        self.pongInFlight = true
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenComplete { _ in
            self.pongInFlight = false
            guard let context = self.context else { return }
            var connection = Connection(handler: self, context: context)
            guard let next = ConnectionEngine.pongReady(connection: &connection) else { return }
            self.writePong(next, context)
        }
        context.writeAndFlush(Self.wrapOutboundOut(pong), promise: written)
    }

    /// Releases everything the connection holds, exactly once.
    private func connectionGone() {
        self.machine.socketClosed()
        self.waitingPong = nil
        guard let id = self.id else { return }
        self.id = nil
        self.decoder.releaseBuffers(to: self.shard.pool)
        ConnectionEngine.released(id, reason: self.closeReason, places: self.places.take(), shard: self.shard, hub: self.hub)
    }

    // MARK: ConnectionSink

    package func write(_ bytes: ByteBuffer, slot: UInt32) {
        self.context?.write(Self.wrapOutboundOut(bytes), promise: nil)
    }

    package func flush(slot: UInt32) {
        self.context?.flush()
    }

    package func pendingOutboundBytes(slot: UInt32) -> Int {
        guard let channel = self.context?.channel else { return 0 }
        return (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
    }

    package func bufferedInboundBytes(slot: UInt32) -> Int { self.decoder.bufferedCapacity }

    package func close(slot: UInt32, code: CloseCode, reason: String, because cause: CloseReason) {
        self.close(code: code, reason: reason, because: cause)
    }

    package func closeTimedOut(slot: UInt32) {
        guard let context = self.context, self.id != nil else { return }
        var connection = Connection(handler: self, context: context)
        ConnectionEngine.closeTimedOut(connection: &connection)
    }

    private func close(code: CloseCode, reason: String, because cause: CloseReason) {
        guard let context = self.context, let id = self.id else { return }
        var connection = Connection(handler: self, context: context)
        ConnectionEngine.close(
            code: code,
            reason: reason,
            because: cause,
            id: id,
            shard: self.shard,
            connection: &connection
        )
    }

    /// The connection as `ConnectionEngine` sees it: the handler's state, and its pipeline to carry actions out.
    private struct Connection: ConnectionActions {
        let handler: WebSocketConnectionHandler
        let context: ChannelHandlerContext

        var machine: WebSocketConnectionStateMachine {
            get { self.handler.machine }
            nonmutating set { self.handler.machine = newValue }
        }

        var closeReason: CloseReason? {
            get { self.handler.closeReason }
            nonmutating set { self.handler.closeReason = newValue }
        }


        var grant: ChannelGrant? { self.handler.grant }
        var deflateWindowBits: UInt8 { self.handler.deflateWindowBits }
        var pongMustWait: Bool { self.handler.pongInFlight }
        var isReleased: Bool { self.handler.id == nil }
        var allocator: ByteBufferAllocator { self.context.channel.allocator }

        func writePong(_ pong: ByteBuffer) {
            self.handler.writePong(pong, self.context)
        }

        func holdPong(_ pong: ByteBuffer) {
            self.handler.waitingPong = pong
        }

        func takeWaitingPong() -> ByteBuffer? {
            defer { self.handler.waitingPong = nil }
            return self.handler.waitingPong
        }

        func write(_ frame: ByteBuffer) {
            self.context.writeAndFlush(WebSocketConnectionHandler.wrapOutboundOut(frame), promise: nil)
        }

        func writeThenCloseSocket(_ frame: ByteBuffer) {
            let context = self.context
            let written = context.writeAndFlush(WebSocketConnectionHandler.wrapOutboundOut(frame))
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }

        func closeSocket() {
            self.context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension WebSocketConnectionHandler: Sendable {}
