import NIOCore
import NIOHTTP1

/// A connection's plain-HTTP side, after NIO's decoder: feeds the parts to `HTTPRequestAssembly`, hands complete
/// requests to `HTTPRouter`, and writes the answers, closes and timers they call for. Removed from the pipeline
/// when a WebSocket upgrade completes.
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let router: HTTPRouter
    private let state: ServerState
    private let handshakeTimeout: TimeAmount
    private var assembly: HTTPRequestAssembly
    private let deadlinesByLoop: HTTPDeadlinesByLoop
    /// The loop's deadlines, which list this connection while it has one.
    private var loopDeadlines: HTTPDeadlines?
    private var context: ChannelHandlerContext?
    /// When the request being waited for is late (or a lingering close is over); nil: none.
    private(set) var deadline: NIODeadline?
    /// This connection's place in its loop's `HTTPDeadlines`, -1 when not listed.
    var deadlineSlot = -1

    init(
        router: HTTPRouter,
        state: ServerState,
        configuration: ServerConfiguration,
        deadlines: HTTPDeadlinesByLoop
    ) {
        self.router = router
        self.state = state
        self.deadlinesByLoop = deadlines
        self.handshakeTimeout = configuration.handshakeTimeout
        self.assembly = HTTPRequestAssembly(
            maxBodyBytes: configuration.maxMessageBytes,
            echoPath: configuration.echoPath
        )
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.loopDeadlines = self.deadlinesByLoop.deadlines(on: context.eventLoop)
        self.armTimer(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.loopDeadlines?.remove(self)
        self.deadline = nil
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is HTTPServerUpgradeEvents {
            // The WebSocket handler has taken over: the HTTP side leaves the pipeline.
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let rejection = error as? HTTPRejection {
            // The upgrader refused this request; NIO passes it on next and it is answered at its end.
            self.assembly.upgradeRefused(rejection)
            return
        }
        if self.assembly.isClosing {
            // A lingering close ends on its timer (see `lingerThenClose`), an immediate one is already under way.
            return
        }
        if let error = error as? HTTPParserError {
            // NIO's decoder gave up on the bytes, so the connection cannot carry another request. The pipeline has
            // no NIO error handler (it would answer 400 to all): a head over the limit is 431, the rest 400. The
            // pipelining handler delivers this error only when no response is under way.
            let rejection =
                if case .headerOverflow = error {
                    HTTPRejection.requestHeadTooLarge
                } else {
                    HTTPRejection(.badRequest, "malformed request", handshake: .badRequest)
                }
            self.refuse(rejection, context: context)
            return
        }
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let action: HTTPRequestAssembly.PartAction
        switch Self.unwrapInboundIn(data) {
        case .head(let head): action = self.assembly.head(head)
        case .body(var chunk): action = self.assembly.body(&chunk)
        case .end: action = self.assembly.end()
        }
        switch action {
        case .nothing:
            break
        case .refuse(let rejection):
            self.refuse(rejection, context: context)
        case .route(let head, let route, let body):
            let peer = context.channel.remoteAddress
            self.router.answer(head, route, body: body, peer: peer, on: context.eventLoop) { answer in
                self.write(answer, context: context)
            }
        }
    }

    /// Counts a refusal that carries a handshake reason, answers it, and ends the connection.
    private func refuse(_ rejection: HTTPRejection, context: ChannelHandlerContext) {
        if let reason = rejection.handshakeReason { self.state.countRejection(reason) }
        self.write(HTTPAnswer(rejection, closeAfter: true), context: context)
    }

    private func write(_ answer: HTTPAnswer, context: ChannelHandlerContext) {
        let ending = self.assembly.answering(closeAfter: answer.closeAfter)
        var head = HTTPResponseHead(version: .http1_1, status: answer.status)
        head.headers.add(name: "Content-Type", value: answer.contentType)
        head.headers.add(name: "Content-Length", value: String(answer.body.readableBytes))
        head.headers.add(contentsOf: answer.headers)
        if ending != .keepOpen { head.headers.add(name: "Connection", value: "close") }
        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(answer.body))), promise: nil)
        switch ending {
        case .keepOpen:
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
            self.armTimer(context: context)
        case .close:
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        case .lingerThenClose:
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                self.lingerThenClose(context: context)
            }
        }
    }

    /// How long a connection answered before its request ended drops what the client still sends.
    private static let lingerTime: TimeAmount = .milliseconds(500)

    /// Ends a connection answered before its request ended. Closing a socket with unread bytes makes the kernel
    /// reset the connection, and a client still sending its body can lose the answer to that reset: so only the
    /// sending side closes (the client reads the answer, then the end), and what the client still sends is read and
    /// dropped until it closes or `lingerTime` passes. The request is not read to its end: a 500 MB claim costs
    /// at most `lingerTime` of reading.
    private func lingerThenClose(context: ChannelHandlerContext) {
        self.armTimer(context: context, in: Self.lingerTime)
        context.close(mode: .output).assumeIsolated().whenFailure { _ in context.close(promise: nil) }
    }

    /// Sets the deadline by which the next request must be complete (a slow or silent client is closed), or,
    /// while closing, the end of the lingering time; the loop's tick acts on it (`deadlinePassed`).
    private func armTimer(context: ChannelHandlerContext, in delay: TimeAmount? = nil) {
        self.deadline = .now() + (delay ?? self.handshakeTimeout)
        self.loopDeadlines?.add(self)
    }

    /// The deadline passed (told by the loop's `HTTPDeadlines`).
    func deadlinePassed() {
        self.deadline = nil
        self.loopDeadlines?.remove(self)
        guard let context = self.context else { return }
        switch self.assembly.timerFired() {
        case .nothing:
            return
        case .close(let countTimeout):
            if countTimeout { self.state.countRejection(.timeout) }
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension HTTPConnectionHandler: Sendable {}
