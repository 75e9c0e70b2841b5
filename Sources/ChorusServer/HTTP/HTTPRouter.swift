import ChorusCore
import NIOCore
import NIOHTTP1

/// Routes an assembled plain-HTTP request to its endpoint: publish, history, metrics, the status page, health,
/// readiness, the JavaScript client, the home page, and the errors for paths, methods and listeners that do not serve it.
struct HTTPRouter {
    /// Which routes a listener serves.
    enum Role {
        /// Everything (metrics only when they are not on their own port).
        case main
        /// Only `/metrics`, `/healthz` and `/readyz` (the optional metrics listener).
        case metricsOnly
    }

    private let hub: Hub
    private let state: ServerState
    private let configuration: ServerConfiguration
    private let metrics: MetricsExporter
    private let metricsAuthorizer: MetricsAuthorizer
    private let publish: PublishEndpoint
    private let history: HistoryEndpoint
    /// Answers plain GETs of the WebSocket paths (`UpgradePolicy.probe`).
    private let upgrades: UpgradePolicy
    private let role: Role

    init(
        hub: Hub,
        state: ServerState,
        configuration: ServerConfiguration,
        metrics: MetricsExporter,
        upgrades: UpgradePolicy,
        role: Role
    ) {
        self.hub = hub
        self.state = state
        self.configuration = configuration
        self.metrics = metrics
        self.metricsAuthorizer = MetricsAuthorizer(token: configuration.metricsToken)
        let authorizer = PublishAuthorizer(apiKeys: configuration.apiKeys, trustedProxies: configuration.trustedProxies)
        self.publish = PublishEndpoint(hub: hub, state: state, authorizer: authorizer)
        // Reading history back is for publishers: the same keys (or loopback).
        self.history = HistoryEndpoint(hub: hub, authorizer: authorizer)
        self.upgrades = upgrades
        self.role = role
    }

    /// Hands the answer to a complete request to `respond`, on `eventLoop`: at once, or when the endpoint has it
    /// (a publish once fanned out, a scrape once rendered). `body` is collected for publish only.
    func answer(
        _ head: HTTPRequestHead,
        _ route: Route,
        body: ByteBuffer?,
        peer: SocketAddress?,
        on eventLoop: any EventLoop,
        _ respond: @escaping (HTTPAnswer) -> Void
    ) {
        let route = self.served(route)
        if head.method == .OPTIONS, route == .webSocket || route == .echo {
            // The CORS preflight of chorus.js's probe from another origin (an `Authorization` header is not a
            // simple header): the probe's answer is readable from any origin, as it carries no data.
            return respond(
                HTTPAnswer(status: .noContent, contentType: "text/plain", body: ByteBuffer(), headers: Self.preflight)
            )
        }
        guard route.allowedMethods.contains(head.method) || route == .notFound else {
            let allow = route.allowedMethods.map(\.rawValue).joined(separator: ", ")
            return respond(
                HTTPAnswer(HTTPRejection(.methodNotAllowed, "method not allowed", headers: [("Allow", allow)]))
            )
        }
        switch route {
        case .health:
            respond(HTTPAnswer(status: .ok, json: #"{"status":"ok"}"#))
        case .readiness:
            respond(self.readiness())
        case .webSocket where Self.asksToUpgrade(head), .echo where Self.asksToUpgrade(head),
            .statusFeed where Self.asksToUpgrade(head):
            // An upgrade that is not its connection's first request (a client pooling connections: Node's fetch and
            // WebSocket share one): NIO's upgrader, which the epoll transport also hands such connections to, takes
            // only a first request. Said plainly, and the connection ends so that the retry opens a new one.
            self.state.countRejection(.badRequest)
            let reason = "a WebSocket upgrade must be the first request on its connection: open a new connection"
            respond(HTTPAnswer(HTTPRejection(.badRequest, reason), closeAfter: true))
        case .webSocket, .echo, .statusFeed:
            // chorus.js asking why its upgrade failed, or a mistake: what the upgrade would get, else 426. Counted
            // apart from handshake rejections, so a refused upgrade and the probe after it count once.
            let answer = self.upgrades.probe(head, peer: peer)
            self.state.countProbe(answer.handshakeReason)
            respond(HTTPAnswer(answer))
        case .publish(let name):
            self.publish.answer(head, channel: name, body: body ?? ByteBuffer(), peer: peer, on: eventLoop, respond)
        case .history(let name):
            respond(self.history.answer(head, channel: name, query: Route.split(head.uri).query, peer: peer))
        case .metrics:
            if let rejection = self.metricsAuthorizer.check(head.headers) {
                return respond(HTTPAnswer(rejection))
            }
            self.metrics.render(on: eventLoop).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let text):
                    respond(HTTPAnswer(status: .ok, contentType: MetricsExporter.contentType, body: text))
                case .failure:
                    respond(HTTPAnswer(HTTPRejection(.internalServerError, "metrics unavailable")))
                }
            }
        case .statusPage:
            if let rejection = self.metricsAuthorizer.check(head.headers, uri: head.uri) {
                return respond(HTTPAnswer(rejection))
            }
            respond(HTTPAnswer(status: .ok, contentType: StatusPage.contentType, body: StatusPage.body))
        case .script:
            respond(ChorusScriptEndpoint.answer)
        case .home:
            respond(HomePage.answer)
        case .notFound:
            respond(HTTPAnswer(HTTPRejection(.notFound, "not found")))
        }
    }

    /// Whether the request asks for a WebSocket upgrade (`Upgrade: websocket`, in any case).
    private static func asksToUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.headers[canonicalForm: "upgrade"].contains { ASCII.equalsIgnoringCase(String($0), "websocket") }
    }

    /// The headers of a preflight answer for the probe (`UpgradePolicy.probe`).
    private static let preflight = [
        ("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", "GET"),
        ("Access-Control-Allow-Headers", "Authorization"), ("Access-Control-Max-Age", "600"),
    ]

    private func readiness() -> HTTPAnswer {
        if !self.state.isAccepting {
            HTTPAnswer(status: .serviceUnavailable, json: #"{"status":"shutting down"}"#)
        } else if self.state.gate?.memoryAdmits == false {
            HTTPAnswer(status: .serviceUnavailable, json: #"{"status":"memory high"}"#)
        } else if self.configuration.requireRedis, self.hub.clusterBus?.isConnected != true {
            HTTPAnswer(status: .serviceUnavailable, json: #"{"status":"redis unavailable"}"#)
        } else {
            HTTPAnswer(status: .ok, json: #"{"status":"ready"}"#)
        }
    }

    /// The route as this listener serves it: other listeners' routes are not found here.
    private func served(_ route: Route) -> Route {
        switch (self.role, route) {
        case (.main, .metrics):
            return self.configuration.metricsPort == nil ? .metrics : .notFound
        case (.main, .statusPage), (.main, .statusFeed):
            return self.configuration.statusPage ? route : .notFound
        case (.main, _), (.metricsOnly, .metrics), (.metricsOnly, .health), (.metricsOnly, .readiness):
            return route
        case (.metricsOnly, .webSocket), (.metricsOnly, .echo), (.metricsOnly, .publish), (.metricsOnly, .history),
            (.metricsOnly, .statusPage), (.metricsOnly, .statusFeed), (.metricsOnly, .script),
            (.metricsOnly, .home), (.metricsOnly, .notFound):
            return .notFound
        }
    }
}
