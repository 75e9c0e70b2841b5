import ChorusCore
import NIOCore
import NIOHTTP1

/// Upgrades an accepted request to Chorus's lean WebSocket pipeline: after it, the only handler left is a
/// `WebSocketConnectionHandler` (NIO's own upgrader would leave a frame encoder, decoder and error handler).
///
/// A refused request fails `buildUpgradeResponse` with an `HTTPRejection`; NIO then passes the request on
/// as plain HTTP and `HTTPRouter` answers with that rejection's status and reason.
struct WebSocketUpgrader: HTTPServerProtocolUpgrader, Sendable {
    let policy: UpgradePolicy

    var supportedProtocol: String { "websocket" }
    var requiredUpgradeHeaders: [String] { [] }

    func buildUpgradeResponse(
        channel: any Channel,
        upgradeRequest: HTTPRequestHead,
        initialResponseHeaders: HTTPHeaders
    ) -> EventLoopFuture<HTTPHeaders> {
        switch self.policy.evaluate(upgradeRequest) {
        case .failure(let rejection):
            return channel.eventLoop.makeFailedFuture(rejection)
        case .success:
            let key = upgradeRequest.headers.first(name: "sec-websocket-key") ?? ""
            var headers = initialResponseHeaders
            headers.add(name: "Sec-WebSocket-Accept", value: HandshakeValidator.acceptValue(forKey: key))
            if let deflate = self.policy.deflate(for: upgradeRequest) {
                headers.add(name: "Sec-WebSocket-Extensions", value: deflate.responseHeaderValue)
            }
            return channel.eventLoop.makeSucceededFuture(headers)
        }
    }

    func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        let hub = self.policy.hub
        guard hub.reserveConnection(limit: self.policy.configuration.maxConnections) else {
            // Another upgrade took the last place after the policy's check: refuse in WebSocket terms.
            self.policy.state.countRejection(.overCapacity)
            let frame = FrameEncoder.close(
                code: .tryAgainLater,
                reason: "server is at capacity",
                allocator: context.channel.allocator
            )
            context.writeAndFlush(NIOAny(frame)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return context.eventLoop.makeSucceededVoidFuture()
        }
        // The policy accepted this URI a moment ago, so parsing it again cannot fail.
        let endpoint = (try? self.policy.endpoint(for: upgradeRequest.uri)) ?? .subscriber(channels: [])
        let (channels, mode): ([ChannelName], WebSocketConnectionHandler.Mode)
        switch endpoint {
        case .subscriber(let names): (channels, mode) = (names, .subscriber)
        case .echo: (channels, mode) = ([], .echo)
        }
        let handler = WebSocketConnectionHandler(
            hub: hub,
            shard: hub.shard(on: context.eventLoop),
            channels: channels,
            mode: mode,
            // The same answer as in the 101 response: negotiation depends only on the request's headers.
            deflate: self.policy.deflate(for: upgradeRequest),
            onClose: { hub.releaseConnection() }
        )
        do {
            try context.pipeline.syncOperations.addHandler(handler)
            return context.eventLoop.makeSucceededVoidFuture()
        } catch {
            hub.releaseConnection()
            return context.eventLoop.makeFailedFuture(error)
        }
    }
}
