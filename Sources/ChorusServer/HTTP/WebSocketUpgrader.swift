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
/// One upgrader serves one connection (`ChannelInitializer` makes one per channel): the policy's ticket is kept
/// from `buildUpgradeResponse` to `upgrade`, so the token is verified once and the places are taken once.
final class WebSocketUpgrader: HTTPServerProtocolUpgrader, @unchecked Sendable {
    // @unchecked: `ticket` is only touched on the connection's event loop, where NIO calls both methods and the
    // close future's callbacks run.
    let policy: UpgradePolicy
    /// Why the epoll transport handed this connection over, or nil (the NIO transport). The HTTP side of the epoll
    /// transport has no shards: it answers a refusal the epoll side decided, and refuses the upgrades it would
    /// accept, saying why the epoll side did not take them.
    let handedOff: HandOffReason?
    private var ticket: AdmissionTicket?

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
        if let handedOff = self.handedOff {
            return channel.eventLoop.makeFailedFuture(self.refusal(handedOff, upgradeRequest, peer: channel.remoteAddress))
        }
        switch self.policy.admit(upgradeRequest, peer: channel.remoteAddress) {
        case .failure(let rejection):
            return channel.eventLoop.makeFailedFuture(rejection)
        case .success(let ticket):
            self.ticket = ticket
            // A client gone before `upgrade` leaves its places here: they go back when the channel closes.
            channel.closeFuture.whenComplete { _ in self.ticket.take()?.places.release() }
            var headers = initialResponseHeaders
            ticket.answer.forEachHeader { headers.add(name: $0, value: $1) }
            return channel.eventLoop.makeSucceededFuture(headers)
        }
    }

    func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        guard let ticket = self.ticket.take() else {
            fatalError("Internal inconsistency: upgrade without an accepted upgrade response")
        }
        let hub = self.policy.hub
        let handler = WebSocketConnectionHandler(hub: hub, shard: hub.shard(on: context.eventLoop), ticket: ticket)
        do {
            try context.pipeline.syncOperations.addHandler(handler)
        } catch {
            ticket.places.release()
            return context.eventLoop.makeFailedFuture(error)
        }
        return context.eventLoop.makeSucceededVoidFuture()
    }

    /// The answer to an upgrade the epoll transport handed over: the refusal it decided, or, for a request it did
    /// not decide on, the policy's refusal or the reason it was not taken (this side has no shard to serve it).
    private func refusal(_ reason: HandOffReason, _ request: HTTPRequestHead, peer: SocketAddress?) -> any Error {
        let rejection: HTTPRejection
        switch reason {
        case .refused(let refusal):
            // Decided and logged on the epoll side.
            return refusal
        case .headTooLarge:
            // Over the epoll side's limit, though NIO's decoder (which counts only the header fields) read it.
            rejection = .requestHeadTooLarge
        case .unsupported, .notAnUpgrade:
            // A body or a line the upgrade path does not read, or an `Upgrade` header the epoll side did not
            // recognise: not a plain RFC 6455 handshake.
            rejection = Self.evaluated(self.policy.evaluate(request, peer: peer)) {
                HTTPRejection(.badRequest, "malformed upgrade request", handshake: .badRequest)
            }
        }
        self.policy.logRefusal(rejection)
        return rejection
    }

    /// The policy's refusal, or `otherwise` when the policy would accept.
    private static func evaluated(
        _ decision: Result<UpgradePolicy.Admission, HTTPRejection>,
        otherwise: () -> HTTPRejection
    ) -> HTTPRejection {
        switch decision {
        case .failure(let rejection): rejection
        case .success: otherwise()
        }
    }
}
