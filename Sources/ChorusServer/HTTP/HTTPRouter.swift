import ChorusCore
import NIOCore
import NIOHTTP1

/// Answers plain HTTP requests: publish, health, readiness, and the errors for refused upgrades.
/// Removed from the pipeline when a WebSocket upgrade completes.
final class HTTPRouter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let hub: Hub
    private let state: ServerState
    private let configuration: ServerConfiguration
    private let authorizer: PublishAuthorizer
    private let metrics: MetricsExporter
    private let role: Role

    /// Which routes a listener serves.
    enum Role {
        /// Everything (metrics only when they are not on their own port).
        case main
        /// Only `/metrics`, `/healthz` and `/readyz` (the optional metrics listener).
        case metricsOnly
    }

    private enum RequestState {
        /// Waiting for a request head.
        case idle
        /// Collecting a request; `body` is nil for routes that ignore it.
        case receiving(HTTPRequestHead, Route, body: ByteBuffer?)
        /// A response is being produced.
        case responding
        /// The connection ends once the last answer is written (or it timed out): whatever still arrives is
        /// dropped, and nothing more is counted (the decoder's complaint about a request cut short by our own
        /// close is not a second event).
        case closing
    }

    private var requestState = RequestState.idle
    private var rejectedUpgrade: HTTPRejection?
    private var idleTimer: Scheduled<Void>?
    private var sawRequest = false
    /// False when the current request asked not to keep the connection (`Connection: close`, or HTTP/1.0
    /// without keep-alive): it then closes once the response is sent.
    private var keepAlive = true

    init(hub: Hub, state: ServerState, configuration: ServerConfiguration, metrics: MetricsExporter, role: Role) {
        self.hub = hub
        self.state = state
        self.configuration = configuration
        self.authorizer = PublishAuthorizer(apiKeys: configuration.apiKeys, trustedProxies: configuration.trustedProxies)
        self.metrics = metrics
        self.role = role
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.armIdleTimer(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.idleTimer?.cancel()
        self.idleTimer = nil
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
            // The upgrader refused this request; NIO passes it on next and we answer with this.
            self.rejectedUpgrade = rejection
            return
        }
        if case .closing = self.requestState {
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
            if let reason = rejection.handshakeReason { self.state.countRejection(reason) }
            self.respond(to: context, rejection: rejection, closeAfter: true)
            return
        }
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (Self.unwrapInboundIn(data), self.requestState) {
        case (.head(let head), .idle):
            // The idle timer keeps running until `.end`: a request must be complete in time, body included.
            self.sawRequest = true
            self.keepAlive = head.isKeepAlive
            let route = Route(uri: head.uri, echoPath: self.configuration.echoPath)
            let collectsBody: Bool
            if case .publish = route { collectsBody = true } else { collectsBody = false }
            // Receiving from here on, so that a refusal below is known to come before the request's end.
            self.requestState = .receiving(
                head,
                route,
                body: collectsBody ? context.channel.allocator.buffer(capacity: 0) : nil
            )
            if Self.hasUnsupportedTransferCoding(head) {
                // NIO's decoder reads `chunked` only and has refused a request whose last coding is another one;
                // one before it (`gzip, chunked`) would be passed on undecoded (RFC 9112 §6.1: 501).
                self.state.countRejection(.badRequest)
                self.respond(
                    to: context,
                    rejection: HTTPRejection(.notImplemented, "transfer coding not supported (only chunked)"),
                    closeAfter: true
                )
            } else if collectsBody, Self.declaredLength(head, isOver: self.configuration.maxMessageBytes) {
                // Refused from the head: the body is never read.
                let rejection = Self.tooLarge(self.configuration.maxMessageBytes)
                self.respond(to: context, rejection: rejection, closeAfter: true)
            }
        case (.body(var chunk), .receiving(let head, let route, var body?)):
            guard body.readableBytes + chunk.readableBytes <= self.configuration.maxMessageBytes else {
                // A chunked body, refused as soon as it passes the limit.
                let rejection = Self.tooLarge(self.configuration.maxMessageBytes)
                self.respond(to: context, rejection: rejection, closeAfter: true)
                return
            }
            self.requestState = .responding  // drop our reference so `body` is uniquely owned
            body.writeBuffer(&chunk)
            self.requestState = .receiving(head, route, body: body)
        case (.body, .receiving), (_, .closing):
            break
        case (.end, .receiving(let head, let route, let body)):
            self.requestState = .responding
            self.route(head, route, body: body, context: context)
        case (.head, _), (.body, _), (.end, _):
            // Out of order parts cannot come from NIO's decoder; refuse rather than guess.
            self.respond(to: context, rejection: HTTPRejection(.badRequest, "malformed request"), closeAfter: true)
        }
    }

    private static func tooLarge(_ limit: Int) -> HTTPRejection {
        HTTPRejection(.payloadTooLarge, "message is larger than max-message-bytes (\(limit))")
    }

    /// Whether `Content-Length` says more than `limit`. NIO's decoder has checked that it is digits, so one that
    /// does not fit an `Int` is over any limit.
    private static func declaredLength(_ head: HTTPRequestHead, isOver limit: Int) -> Bool {
        guard let length = head.headers.first(name: "content-length") else { return false }
        return Int(length).map { $0 > limit } ?? true
    }

    /// Whether `Transfer-Encoding` names a coding other than `chunked`, the only one Chorus decodes.
    private static func hasUnsupportedTransferCoding(_ head: HTTPRequestHead) -> Bool {
        head.headers[canonicalForm: "transfer-encoding"].contains { $0.lowercased() != "chunked" }
    }

    private func route(_ head: HTTPRequestHead, _ route: Route, body: ByteBuffer?, context: ChannelHandlerContext) {
        if let rejection = self.rejectedUpgrade {
            self.rejectedUpgrade = nil
            if let reason = rejection.handshakeReason { self.state.countRejection(reason) }
            // The decoder stops parsing after an upgrade request, so this connection cannot carry another.
            self.respond(to: context, rejection: rejection, closeAfter: true)
            return
        }
        let route = self.served(route)
        guard route.allowedMethods.contains(head.method) || route == .notFound else {
            let allow = route.allowedMethods.map(\.rawValue).joined(separator: ", ")
            self.respond(
                to: context,
                rejection: HTTPRejection(.methodNotAllowed, "method not allowed", headers: [("Allow", allow)])
            )
            return
        }
        switch route {
        case .health:
            self.respond(to: context, status: .ok, json: #"{"status":"ok"}"#)
        case .readiness:
            if !self.state.isAccepting {
                self.respond(to: context, status: .serviceUnavailable, json: #"{"status":"shutting down"}"#)
            } else if self.configuration.requireRedis, self.hub.clusterBus?.isConnected != true {
                self.respond(to: context, status: .serviceUnavailable, json: #"{"status":"redis unavailable"}"#)
            } else {
                self.respond(to: context, status: .ok, json: #"{"status":"ready"}"#)
            }
        case .webSocket, .echo:
            self.state.countRejection(.badRequest)
            self.respond(
                to: context,
                rejection: HTTPRejection(
                    .upgradeRequired,
                    "this endpoint only accepts WebSocket upgrades",
                    headers: [("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")]
                )
            )
        case .publish(let name):
            self.publish(head, channel: name, body: body ?? ByteBuffer(), context: context)
        case .metrics:
            self.serveMetrics(head, context: context)
        case .notFound:
            self.respond(to: context, rejection: HTTPRejection(.notFound, "not found"))
        }
    }

    /// The route as this listener serves it: other listeners' routes are not found here.
    private func served(_ route: Route) -> Route {
        switch (self.role, route) {
        case (.main, .metrics):
            return self.configuration.metricsPort == nil ? .metrics : .notFound
        case (.main, _), (.metricsOnly, .metrics), (.metricsOnly, .health), (.metricsOnly, .readiness):
            return route
        case (.metricsOnly, .webSocket), (.metricsOnly, .echo), (.metricsOnly, .publish), (.metricsOnly, .notFound):
            return .notFound
        }
    }

    private func serveMetrics(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        if let token = self.configuration.metricsToken {
            let expected = Array("Bearer \(token)".utf8)
            let presented = Array((head.headers.first(name: "authorization") ?? "").utf8)
            guard PublishAuthorizer.constantTimeEquals(presented, expected) else {
                let status: HTTPResponseStatus = presented.isEmpty ? .unauthorized : .forbidden
                self.respond(
                    to: context,
                    rejection: HTTPRejection(status, "metrics require Authorization: Bearer <token>",
                                             headers: [("WWW-Authenticate", "Bearer")])
                )
                return
            }
        }
        self.metrics.render(on: context.eventLoop).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let body):
                self.respond(to: context, status: .ok, contentType: MetricsExporter.contentType, body: body)
            case .failure:
                self.respond(to: context, rejection: HTTPRejection(.internalServerError, "metrics unavailable"))
            }
        }
    }

    private func publish(_ head: HTTPRequestHead, channel name: Substring, body: ByteBuffer, context: ChannelHandlerContext)
    {
        let channel: ChannelName
        do {
            channel = try ChannelName(validating: name)
        } catch {
            self.respond(to: context, rejection: HTTPRejection(.badRequest, error.reason))
            return
        }
        if let rejection = self.authorizer.check(head.headers, peer: context.channel.remoteAddress) {
            self.respond(to: context, rejection: rejection)
            return
        }
        let opcode = Self.opcode(forContentType: head.headers.first(name: "content-type"))
        if opcode == .text {
            var validator = UTF8Validator()
            guard validator.feed(body), validator.isAtCharacterBoundary else {
                self.respond(to: context, rejection: HTTPRejection(.badRequest, "text body is not valid UTF-8"))
                return
            }
        }
        guard self.state.isAccepting else {
            // Shutdown has begun: subscribers here are being closed, so the message would reach nobody; another
            // instance can take it. The connection ends with the answer, so the retry goes elsewhere.
            let rejection = HTTPRejection(
                .serviceUnavailable,
                "server is shutting down; retry on another instance",
                headers: [("Retry-After", "1")]
            )
            self.respond(to: context, rejection: rejection, closeAfter: true)
            return
        }
        self.hub.broadcast(body, opcode: opcode, to: channel, source: .http, on: context.eventLoop)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let reached):
                    self.respond(to: context, status: .ok, json: Self.publishAnswer(reached, channel: channel))
                case .failure(let error):
                    self.respond(to: context, rejection: Self.publishFailure(error, clustered: self.hub.clusterBus != nil))
                }
            }
    }

    /// The 200 answer to a publish: `delivered` on a single node; in cluster mode `clustered` and either the
    /// nodes Redis handed it to (`nodes`), or, with Redis down, the local subscribers it reached (`delivered`).
    static func publishAnswer(_ reached: PublishResult, channel: ChannelName) -> String {
        switch reached {
        case .delivered(let count):
            #"{"channel":"\#(channel.value)","delivered":\#(count)}"#
        case .clustered(let receivers):
            #"{"channel":"\#(channel.value)","clustered":true,"nodes":\#(receivers)}"#
        case .localOnly(let count):
            #"{"channel":"\#(channel.value)","clustered":false,"delivered":\#(count)}"#
        }
    }

    /// The answer to a publish that failed.
    package static func publishFailure(_ error: any Error, clustered: Bool) -> HTTPRejection {
        if let overloaded = error as? PublishOverloaded {
            // Nothing went out anywhere: retrying later is safe.
            var rejection = HTTPRejection(
                .serviceUnavailable,
                "overloaded: an event loop has \(overloaded.limit) publishes waiting; retry later"
            )
            rejection.headers.append(("Retry-After", "1"))
            return rejection
        }
        if clustered {
            // Handed to Redis, then the connection dropped: it may or may not have gone out, so it was not
            // delivered locally either (a retry must not reach anyone twice).
            return HTTPRejection(.serviceUnavailable, "cluster publish failed; it may not have been delivered")
        }
        return HTTPRejection(.internalServerError, "publish failed")
    }

    /// `text/*` and `application/json` are delivered as text frames; anything else as binary.
    static func opcode(forContentType contentType: String?) -> WebSocketOpcode {
        guard let contentType else { return .binary }
        let mediaType = contentType.split(separator: ";", maxSplits: 1)[...].first ?? ""
        let normalized = mediaType.trimmingSpaces().lowercased()
        return normalized.hasPrefix("text/") || normalized == "application/json" ? .text : .binary
    }

    // MARK: Responses

    private func respond(to context: ChannelHandlerContext, rejection: HTTPRejection, closeAfter: Bool = false) {
        let body = #"{"error":"\#(Self.jsonEscaped(rejection.reason))"}"#
        self.respond(
            to: context,
            status: rejection.status,
            json: body,
            headers: rejection.headers,
            closeAfter: closeAfter
        )
    }

    private func respond(
        to context: ChannelHandlerContext,
        status: HTTPResponseStatus,
        json: String,
        headers extra: [(String, String)] = [],
        closeAfter: Bool = false
    ) {
        var buffer = context.channel.allocator.buffer(capacity: json.utf8.count + 1)
        buffer.writeString(json)
        buffer.writeString("\n")
        self.respond(
            to: context,
            status: status,
            contentType: "application/json",
            body: buffer,
            headers: extra,
            closeAfter: closeAfter
        )
    }

    private func respond(
        to context: ChannelHandlerContext,
        status: HTTPResponseStatus,
        contentType: String,
        body buffer: ByteBuffer,
        headers extra: [(String, String)] = [],
        closeAfter: Bool = false
    ) {
        let closeAfter = closeAfter || !self.keepAlive
        var head = HTTPResponseHead(version: .http1_1, status: status)
        head.headers.add(name: "Content-Type", value: contentType)
        head.headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        head.headers.add(contentsOf: extra)
        if closeAfter { head.headers.add(name: "Connection", value: "close") }
        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        if closeAfter {
            // Answered before the request's end (from its head, or part of its body): the client may still be
            // sending it.
            let answeredEarly: Bool
            if case .receiving = self.requestState { answeredEarly = true } else { answeredEarly = false }
            self.requestState = .closing
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if answeredEarly {
                    self.lingerThenClose(context: context)
                } else {
                    context.close(promise: nil)
                }
            }
        } else {
            self.requestState = .idle
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
            self.armIdleTimer(context: context)
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
        self.armIdleTimer(context: context, in: Self.lingerTime)
        context.close(mode: .output).assumeIsolated().whenFailure { _ in context.close(promise: nil) }
    }

    /// Closes a connection that does not complete a request in time (a slow or silent client), or, while
    /// `.closing`, one whose lingering time is over.
    private func armIdleTimer(context: ChannelHandlerContext, in delay: TimeAmount? = nil) {
        self.idleTimer?.cancel()
        let delay = delay ?? self.configuration.handshakeTimeout
        self.idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            switch self.requestState {
            case .responding:
                return
            case .idle:
                // A kept-alive connection that goes quiet after its requests is no failure.
                if !self.sawRequest { self.state.countRejection(.timeout) }
            case .receiving:
                self.state.countRejection(.timeout)
            case .closing:
                break
            }
            self.requestState = .closing
            context.close(promise: nil)
        }
    }

    static func jsonEscaped(_ text: String) -> String {
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case _ where scalar.value < 0x20: escaped += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}

@available(*, unavailable)
extension HTTPRouter: Sendable {}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> Substring {
        let trimmedStart = self.drop { $0 == " " || $0 == "\t" }
        var end = trimmedStart.endIndex
        while end > trimmedStart.startIndex, [" ", "\t"].contains(trimmedStart[trimmedStart.index(before: end)]) {
            end = trimmedStart.index(before: end)
        }
        return Substring(trimmedStart[..<end])
    }
}
