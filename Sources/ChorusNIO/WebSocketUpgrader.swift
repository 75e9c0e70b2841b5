import ChorusCore
import NIOCore
import NIOHTTP1

/// Upgrades an accepted request to Chorus's lean WebSocket pipeline: after it, the only handler left is a
/// `WebSocketConnectionHandler` (NIO's own upgrader would leave a frame encoder, decoder and error handler).
///
/// A refused request fails `buildUpgradeResponse` with the decider's error; NIO then passes the request on as plain
/// HTTP and the HTTP handler behind the upgrader answers it.
///
/// One upgrader serves one connection (`HTTPPipeline` makes one per channel): the decider's ticket is kept from
/// `buildUpgradeResponse` to `upgrade`, so the request is decided once and the places are taken once.
package final class WebSocketUpgrader<Decider: NIOUpgradeDecider>: HTTPServerProtocolUpgrader, @unchecked Sendable {
    // @unchecked: `ticket` is only touched on the connection's event loop, where NIO calls both methods and the
    // close future's callbacks run.
    private let hub: Hub
    // Generic rather than an existential: the decider is stored inline, not boxed once per connection.
    private let decider: Decider
    private var ticket: AdmissionTicket?

    /// - Parameters:
    ///   - hub: the engine an admitted connection joins, on the shard of its event loop.
    ///   - decider: decides on the upgrade request.
    package init(hub: Hub, decider: Decider) {
        self.hub = hub
        self.decider = decider
    }

    package var supportedProtocol: String { "websocket" }
    package var requiredUpgradeHeaders: [String] { [] }

    package func buildUpgradeResponse(
        channel: any Channel,
        upgradeRequest: HTTPRequestHead,
        initialResponseHeaders: HTTPHeaders
    ) -> EventLoopFuture<HTTPHeaders> {
        channel.eventLoop.preconditionInEventLoop()
        switch self.decider.decide(upgradeRequest, peer: channel.remoteAddress) {
        case .failure(let refusal):
            return channel.eventLoop.makeFailedFuture(refusal)
        case .success(let ticket):
            self.ticket = ticket
            // A client gone before `upgrade` leaves its places here: they go back when the channel closes.
            channel.closeFuture.whenComplete { _ in self.ticket.take()?.places.release() }
            var headers = initialResponseHeaders
            ticket.answer.forEachHeader { headers.add(name: $0, value: $1) }
            return channel.eventLoop.makeSucceededFuture(headers)
        }
    }

    package func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        guard let ticket = self.ticket.take() else {
            fatalError("Internal inconsistency: upgrade without an accepted upgrade response")
        }
        let hub = self.hub
        let handler = WebSocketConnectionHandler(hub: hub, shard: hub.shard(on: context.eventLoop), ticket: ticket)
        do {
            try context.pipeline.syncOperations.addHandler(handler)
        } catch {
            ticket.places.release()
            return context.eventLoop.makeFailedFuture(error)
        }
        return context.eventLoop.makeSucceededVoidFuture()
    }
}
