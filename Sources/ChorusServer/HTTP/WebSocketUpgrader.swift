import ChorusCore
import ChorusEpoll
import ChorusNIO
import Logging
import NIOCore
import NIOHTTP1

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Upgrades an accepted request to Chorus's lean WebSocket pipeline: after it, the only handler left is a
/// `WebSocketConnectionHandler` (NIO's own upgrader would leave a frame encoder, decoder and error handler).
///
/// A refused request fails `buildUpgradeResponse` with an `HTTPRejection`; NIO then passes the request on
/// as plain HTTP and `HTTPConnectionHandler` answers with that rejection's status and reason.
///
/// One upgrader serves one connection (`ChannelInitializer` makes one per channel): the policy's decision is
/// kept from `buildUpgradeResponse` to `upgrade`, so the token is verified once.
final class WebSocketUpgrader: HTTPServerProtocolUpgrader, @unchecked Sendable {
    // @unchecked: `admission` is only touched on the connection's event loop, where NIO calls both methods.
    let policy: UpgradePolicy
    /// Why the epoll transport handed this connection over, or nil (the NIO transport). The HTTP side of the epoll
    /// transport has no shards: it refuses the upgrades it would accept, saying why the epoll side did not.
    let handedOff: HandOffReason?
    private var admission: UpgradePolicy.Admission?

    init(policy: UpgradePolicy, handedOff: HandOffReason? = nil) {
        self.policy = policy
        self.handedOff = handedOff
    }

    var supportedProtocol: String { "websocket" }
    var requiredUpgradeHeaders: [String] { [] }

    func buildUpgradeResponse(
        channel: any Channel,
        upgradeRequest: HTTPRequestHead,
        initialResponseHeaders: HTTPHeaders
    ) -> EventLoopFuture<HTTPHeaders> {
        channel.eventLoop.preconditionInEventLoop()
        if self.handedOff == .headTooLarge {
            // Over the epoll side's limit, though NIO's decoder (which counts only the header fields) read it.
            return channel.eventLoop.makeFailedFuture(HTTPRejection.requestHeadTooLarge)
        }
        switch self.policy.evaluate(upgradeRequest, peer: channel.remoteAddress) {
        case .failure(let rejection):
            return channel.eventLoop.makeFailedFuture(rejection)
        case .success(let admission):
            if let handedOff = self.handedOff {
                // This side has no shard to serve it: refuse for the reason the epoll side did not take it.
                return channel.eventLoop.makeFailedFuture(Self.refusal(handedOff))
            }
            self.admission = admission
            var headers = initialResponseHeaders
            headers.add(name: "Sec-WebSocket-Accept", value: admission.secWebSocketAccept.string)
            admission.forEachNegotiatedHeader { headers.add(name: $0, value: $1) }
            return channel.eventLoop.makeSucceededFuture(headers)
        }
    }

    func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        let hub = self.policy.hub
        guard let admission = self.admission else {
            fatalError("Internal inconsistency: upgrade without an accepted upgrade response")
        }
        self.admission = nil
        guard hub.reserveConnection(limit: self.policy.configuration.maxConnections) else {
            // Another upgrade took the last place after the policy's check: refuse in WebSocket terms.
            self.refuse(context: context, .overCapacity, code: .tryAgainLater, reason: "server is at capacity")
            return context.eventLoop.makeSucceededVoidFuture()
        }
        let perAddress = self.policy.access.perAddress
        let address = admission.clientAddress
        if let perAddress, let address, !perAddress.reserve(address) {
            hub.releaseConnection()
            self.refuse(context: context, .rateLimited, code: .policyViolation, reason: "too many connections")
            return context.eventLoop.makeSucceededVoidFuture()
        }
        // Without a per-address limit the closure captures only the hub: nothing more per connection.
        let onClose: @Sendable () -> Void
        if let perAddress, let address {
            onClose = {
                perAddress.release(address)
                hub.releaseConnection()
            }
        } else {
            onClose = { hub.releaseConnection() }
        }
        let (channels, mode): ([ChannelName], WebSocketConnectionHandler.Mode)
        switch admission.endpoint {
        case .subscriber(let names): (channels, mode) = (Array(names), .subscriber)
        case .echo: (channels, mode) = ([], .echo)
        }
        let handler = WebSocketConnectionHandler(
            hub: hub,
            shard: hub.shard(on: context.eventLoop),
            channels: channels,
            mode: mode,
            grant: admission.token?.grant,
            deflate: admission.deflate,
            onClose: onClose
        )
        do {
            try context.pipeline.syncOperations.addHandler(handler)
        } catch {
            onClose()
            return context.eventLoop.makeFailedFuture(error)
        }
        if let token = admission.token {
            self.policy.access.logger.debug(
                "connection with token",
                metadata: ["sub": "\(token.subject)", "expires": "\(token.expiresAt)", "channels": "\(channels.count)"]
            )
            handler.expireToken(at: token.expiryDeadline)
        }
        return context.eventLoop.makeSucceededVoidFuture()
    }

    /// The answer to an upgrade the epoll transport handed over and this side's policy accepts.
    private static func refusal(_ reason: HandOffReason) -> HTTPRejection {
        switch reason {
        case .notAdmitted:
            // It had no place left a moment ago (the policy's check and the reservation are not one step).
            HTTPRejection(.serviceUnavailable, "server is at capacity", handshake: .overCapacity)
        case .unsupported:
            // A body or a line the upgrade path does not read: not a plain RFC 6455 handshake.
            HTTPRejection(.badRequest, "malformed upgrade request", handshake: .badRequest)
        case .headTooLarge:
            HTTPRejection.requestHeadTooLarge
        }
    }

    /// Refuses after the 101 was sent (a place was taken meanwhile): a close frame, then the socket closes.
    private func refuse(
        context: ChannelHandlerContext,
        _ reason: HandshakeRejectionReason,
        code: CloseCode,
        reason text: String
    ) {
        self.policy.state.countRejection(reason)
        let frame = FrameEncoder.close(code: code, reason: text, allocator: context.channel.allocator)
        context.writeAndFlush(NIOAny(frame)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
