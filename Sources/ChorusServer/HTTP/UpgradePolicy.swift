import ChorusCore
import NIOCore
import Logging
import NIOHTTP1

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The one place that decides whether a request may become a WebSocket connection, and on which channels: it
/// issues the admission ticket both transports carry out, and logs each decision (at debug, with the token's
/// subject, never the token).
///
/// Checks run cheapest first: path, readiness, RFC 6455 handshake, channel names and count, the server-wide gate
/// (memory over the high watermark, `--max-upgrades-per-second`: 503 with `Retry-After`), Origin (403),
/// connections per client address (429), the token (401) and its channel permissions (403), then capacity. The
/// gate comes before the access checks so that a reconnect storm is turned away before it costs a token
/// verification each, and after the byte-level checks so that malformed requests take no upgrade-rate token.
///
/// A plain `GET` of a WebSocket path (`probe`) runs the same checks, less the RFC 6455 ones and taking nothing:
/// a browser cannot see why its upgrade was refused, so chorus.js asks this way.
package struct UpgradePolicy: Sendable {
    package let configuration: ServerConfiguration
    package let hub: Hub
    package let state: ServerState
    package let access: AccessControl

    package init(configuration: ServerConfiguration, hub: Hub, state: ServerState, access: AccessControl = .init()) {
        self.configuration = configuration
        self.hub = hub
        self.state = state
        self.access = access
    }

    /// What an accepted upgrade becomes.
    package enum Endpoint: Equatable, Sendable {
        /// A subscriber (`/ws`), following these channels from the start, speaking the raw protocol or `chorus.v1`
        /// (then recovering them from `since` when given).
        case subscriber(channels: ChannelList, stream: StreamRequest = StreamRequest())
        /// The echo endpoint (`--echo-path`): every data message comes back; no channels, no control messages.
        case echo
        /// The status page's live feed (`/status/live`, `--status-page`): `chorus.v1`, allowed to follow the system
        /// channels only, authorised like `/metrics`.
        case statusFeed
    }

    /// An accepted upgrade: what it becomes and what the connection carries with it.
    package struct Admission: Sendable {
        package var endpoint: Endpoint
        /// The subprotocol to answer with (`chorus` when offered), or nil.
        package var subprotocol: String?
        /// The connection's token, when tokens are on.
        package var token: VerifiedToken?
        /// The client's address, when connections per address are limited.
        package var clientAddress: IPAddress?
        /// The permessage-deflate parameters negotiated for the 101 and the handler alike (nil: none).
        package var deflate: DeflateParameters?

        /// The `Sec-WebSocket-Accept` value for the request's key (computed once, by the validation).
        package var secWebSocketAccept: AcceptValue

        /// The 101 to answer with.
        package var answer: SwitchingProtocols {
            SwitchingProtocols(accept: self.secWebSocketAccept, subprotocol: self.subprotocol, deflate: self.deflate)
        }
    }

    /// Decides on an upgrade request from `peer` and, when it is accepted, takes its places (one of the server's
    /// capacity, one of its client address's when that is limited): one decision and one ticket, whose places the
    /// transport releases when the connection goes. Logs the decision at debug.
    ///
    /// With the default configuration, a request that offers no subprotocol or extension and names channels of up
    /// to 15 bytes is admitted without allocating beyond the ticket's channel list.
    package func admit(
        _ request: some UpgradeRequest,
        peer: SocketAddress?,
        now: Date = Date()
    ) -> Result<AdmissionTicket, HTTPRejection> {
        let admission: Admission
        switch self.evaluate(request, peer: peer, now: now, .admitting) {
        case .success(let accepted):
            admission = accepted
        case .failure(let rejection):
            self.logRefusal(rejection)
            return .failure(rejection)
        }
        let capacity = self.state.capacity
        guard capacity.reserve() else {
            let rejection = HTTPRejection(.serviceUnavailable, "server is at capacity", handshake: .overCapacity)
            self.logRefusal(rejection, subject: admission.token?.subject)
            return .failure(rejection)
        }
        var own: (any OwnAdmissionPlace)?
        if let perAddress = self.access.perAddress, let address = admission.clientAddress {
            guard perAddress.reserve(address) else {
                capacity.release()
                let rejection = Self.tooManyFromAddress
                self.logRefusal(rejection, subject: admission.token?.subject)
                return .failure(rejection)
            }
            own = AddressPlace(connections: perAddress, address: address)
        }
        let ticket: AdmissionTicket
        switch admission.endpoint {
        case .subscriber(let channels, let stream):
            let chorusV1 = stream.chorusV1 || admission.subprotocol == RequestToken.chorusV1Subprotocol
            ticket = AdmissionTicket(
                answer: admission.answer,
                wireProtocol: chorusV1 ? .chorusV1 : .native,
                channels: channels,
                since: stream.since,
                grant: admission.token?.grant,
                tokenExpiry: admission.token?.expiryDeadline,
                places: AdmissionPlaces(capacity: capacity, own: own)
            )
        case .statusFeed:
            ticket = AdmissionTicket(
                answer: admission.answer,
                wireProtocol: .chorusV1,
                channels: [],
                grant: .statusFeed,
                tokenExpiry: nil,
                places: AdmissionPlaces(
                    capacity: capacity,
                    own: self.state.statusViewers.admit(inner: own, hub: self.hub)
                )
            )
        case .echo:
            ticket = AdmissionTicket(
                answer: admission.answer,
                wireProtocol: .echo,
                channels: [],
                grant: admission.token?.grant,
                tokenExpiry: admission.token?.expiryDeadline,
                places: AdmissionPlaces(capacity: capacity, own: own)
            )
        }
        let logger = self.access.logger
        if logger.logLevel <= .debug {
            var metadata: Logger.Metadata = [
                "protocol": "\(ticket.wireProtocol)", "channels": "\(ticket.channels.count)",
            ]
            if let token = admission.token {
                metadata["sub"] = "\(token.subject)"
                metadata["expires"] = "\(token.expiresAt)"
            }
            logger.debug("upgrade accepted", metadata: metadata)
        }
        return .success(ticket)
    }

    /// Logs a refused upgrade at debug: its status and reason, and the token's subject when a valid token was
    /// refused (never the token itself).
    package func logRefusal(_ rejection: HTTPRejection, subject: String? = nil) {
        let logger = self.access.logger
        guard logger.logLevel <= .debug else { return }
        var metadata: Logger.Metadata = ["status": "\(rejection.status.code)", "reason": "\(rejection.reason)"]
        if let subject = subject ?? rejection.subject { metadata["sub"] = "\(subject)" }
        logger.debug("upgrade refused", metadata: metadata)
    }

    /// Past `--max-connections-per-ip`.
    static let tooManyFromAddress = HTTPRejection(
        .tooManyRequests,
        "too many connections from this address",
        handshake: .rateLimited
    )

    /// How `evaluate` treats the server-wide gate and the RFC 6455 checks.
    package enum Evaluation: Sendable {
        /// An upgrade `admit` is about to admit: takes an upgrade-rate token.
        case admitting
        /// A decision only (a handed-off request's refusal, tests): peeks at the gate, takes nothing.
        case checking
        /// A plain `GET` of a WebSocket path: peeks at the gate, and skips the checks only an upgrade can pass
        /// (RFC 6455 headers; `since` with the `chorus.v1` subprotocol, which a plain request cannot offer).
        case probing
    }

    /// Decides on an upgrade request from `peer` without taking its places (`admit` does): what the request
    /// would become, or why it is refused.
    ///
    /// The checks every upgrade runs read the request as bytes: with the default configuration, a request that
    /// offers no subprotocol or extension and names channels of up to 15 bytes is accepted without allocating.
    package func evaluate(
        _ request: some UpgradeRequest,
        peer: SocketAddress?,
        now: Date = Date(),
        _ evaluation: Evaluation = .checking
    ) -> Result<Admission, HTTPRejection> {
        let target = request.withTarget { UpgradeTarget($0, echoPath: self.configuration.echoPath) }
        guard target != .other, target != .statusFeed || self.configuration.statusPage else {
            return .failure(HTTPRejection(.notFound, "no WebSocket endpoint at this path", handshake: .badRequest))
        }
        guard self.state.isAccepting else {
            return .failure(HTTPRejection(.serviceUnavailable, "server is shutting down", handshake: .overCapacity))
        }
        let outcome: HandshakeValidator.Outcome =
            evaluation == .probing
            ? .accept(secWebSocketAccept: Self.probeAccept)
            : HandshakeValidator.validate(
                method: request.methodName,
                versionMajor: request.versionMajor,
                versionMinor: request.versionMinor,
                fields: request
            )
        let accept: AcceptValue
        switch outcome {
        case .accept(let value):
            accept = value
        case .reject(let status, let reason, let extraHeaders):
            return .failure(
                HTTPRejection(
                    HTTPResponseStatus(statusCode: status),
                    reason,
                    headers: extraHeaders.map { ($0.name, $0.value) },
                    handshake: .badRequest
                )
            )
        }
        let endpoint: Endpoint
        switch target {
        case .echo:
            endpoint = .echo
        case .statusFeed:
            endpoint = .statusFeed
        case .subscriber, .other:
            let channels: ChannelList
            switch request.withTarget({ Self.channels(fromTarget: $0) }) {
            case .success(let list): channels = list
            case .failure(let error): return .failure(error)
            }
            switch request.withTarget({ StreamRequest.read(target: $0) }) {
            case .success(let stream):
                if stream.since != nil, channels.isEmpty {
                    return .failure(HTTPRejection(.badRequest, "since needs a channel to recover", handshake: .badRequest))
                }
                endpoint = .subscriber(channels: channels, stream: stream)
            case .failure(let error):
                return .failure(error)
            }
        }
        if case .subscriber(let channels, _) = endpoint, channels.count > self.configuration.maxSubscriptions {
            return .failure(
                HTTPRejection(
                    .badRequest,
                    "too many channels: at most \(self.configuration.maxSubscriptions) per connection",
                    handshake: .badRequest
                )
            )
        }
        if let gate = self.state.gate, let refusal = evaluation == .admitting ? gate.admit() : gate.peek() {
            return .failure(Self.rejection(refusal))
        }
        var admission = Admission(endpoint: endpoint, secWebSocketAccept: accept)
        // NIO's whole head only for what is configured or offered.
        let offersExtensions = self.configuration.compression && request.contains(named: "sec-websocket-extensions")
        let head =
            self.readsWholeHead || offersExtensions || request.contains(named: "sec-websocket-protocol")
                || endpoint == .statusFeed
            ? request.makeHTTPRequestHead() : nil
        if let head {
            do {
                admission.subprotocol = try RequestToken.selectedSubprotocol(in: head)
                if endpoint == .statusFeed {
                    try self.checkStatusFeedAccess(head)
                } else {
                    try self.checkAccess(head, peer: peer, now: now, admission: &admission)
                }
            } catch {
                return .failure(error)
            }
        }
        if case .subscriber(_, let stream) = admission.endpoint, stream.since != nil, !stream.chorusV1,
            admission.subprotocol != RequestToken.chorusV1Subprotocol, evaluation != .probing
        {
            return .failure(HTTPRejection(.badRequest, "since needs the chorus.v1 protocol", handshake: .badRequest))
        }
        // Capacity is checked here too, so that `evaluate` alone answers as `admit` would.
        guard self.state.capacity.taken < self.state.capacity.limit else {
            var rejection = HTTPRejection(.serviceUnavailable, "server is at capacity", handshake: .overCapacity)
            rejection.subject = admission.token?.subject
            return .failure(rejection)
        }
        if let head, offersExtensions {
            admission.deflate = self.deflate(for: head)
        }
        return .success(admission)
    }

    /// The answer to a plain `GET` of a WebSocket path (no `Upgrade`), which chorus.js sends after a failed
    /// upgrade to learn why (a browser cannot see a refused handshake's status): the refusal the upgrade would
    /// get now — 503 with `Retry-After` while memory or the upgrade rate turn upgrades away (peeking at the
    /// bucket), 401/403 for the token and its channels, and the rest — else 426. Takes no place and no token;
    /// cross-origin readable (`Access-Control-Allow-Origin: *`, `Retry-After` exposed), as it carries no data.
    package func probe(_ head: HTTPRequestHead, peer: SocketAddress?, now: Date = Date()) -> HTTPRejection {
        var answer: HTTPRejection
        switch self.evaluate(head, peer: peer, now: now, .probing) {
        case .failure(let rejection):
            answer = rejection
        case .success:
            answer = HTTPRejection(
                .upgradeRequired,
                "this endpoint only accepts WebSocket upgrades",
                headers: [("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")]
            )
        }
        answer.headers += [("Access-Control-Allow-Origin", "*"), ("Access-Control-Expose-Headers", "Retry-After")]
        return answer
    }

    /// A stand-in accept value for probes, which have no `Sec-WebSocket-Key` and are never answered with a 101.
    private static let probeAccept = HandshakeValidator.acceptValue(forKey: "probe")

    /// The 503 of a gate refusal, with the refusal's `Retry-After`.
    static func rejection(_ refusal: AdmissionGate.Refusal) -> HTTPRejection {
        let retryAfter = String(refusal.retryAfterSeconds)
        switch refusal {
        case .memory:
            return HTTPRejection(
                .serviceUnavailable,
                "server memory is high: retry later",
                headers: [("Retry-After", retryAfter)],
                handshake: .memory
            )
        case .rate:
            return HTTPRejection(
                .serviceUnavailable,
                "too many upgrades per second: retry later",
                headers: [("Retry-After", retryAfter)],
                handshake: .rate
            )
        }
    }

    /// Whether the configured access checks (origins, connections per address, tokens) read the whole head.
    private var readsWholeHead: Bool {
        !self.access.origins.patterns.isEmpty || self.access.perAddress != nil || self.access.tokens != nil
    }

    /// Origin, connections per address, token and permissions. Rejections never repeat the token.
    private func checkAccess(
        _ head: HTTPRequestHead,
        peer: SocketAddress?,
        now: Date,
        admission: inout Admission
    ) throws(HTTPRejection) {
        // Without allowed origins the header is not even read.
        if !self.access.origins.patterns.isEmpty, !self.access.origins.allows(head.headers.first(name: "origin")) {
            throw HTTPRejection(.forbidden, "origin not allowed", handshake: .origin)
        }
        if let perAddress = self.access.perAddress,
            let address = ClientAddress.resolve(
                peer: peer,
                headers: head.headers,
                trustedProxies: self.access.trustedProxies
            )
        {
            guard perAddress.hasRoom(for: address) else { throw Self.tooManyFromAddress }
            admission.clientAddress = address
        }
        guard let verifier = self.access.tokens else { return }
        let token: VerifiedToken
        do throws(TokenRejection) {
            guard let presented = try RequestToken.find(in: head) else { throw TokenRejection.missing }
            token = try verifier.verify(presented, now: now)
        } catch {
            // RFC 6750 3.1: no error code when no token was presented at all.
            let challenge = error == .missing ? "Bearer" : #"Bearer error="invalid_token""#
            throw HTTPRejection(
                .unauthorized,
                error.reason,
                headers: [("WWW-Authenticate", challenge)],
                handshake: .unauthorized
            )
        }
        if case .subscriber(let channels, _) = admission.endpoint,
            let refused = channels.first(where: { !token.grant.maySubscribe(to: $0) })
        {
            // The channel name is the client's own request and of a restricted alphabet: safe to repeat.
            var rejection = HTTPRejection(.forbidden, "token does not allow channel \(refused.value)", handshake: .forbidden)
            rejection.subject = token.subject
            throw rejection
        }
        admission.token = token
    }

    /// The status feed's own authorisation, instead of tokens and per-address limits: the metrics token (header or
    /// `?token=`) when set, and an allowed `Origin`, or the server's own (the status page it served).
    private func checkStatusFeedAccess(_ head: HTTPRequestHead) throws(HTTPRejection) {
        let authorizer = MetricsAuthorizer(token: self.configuration.metricsToken)
        if var rejection = authorizer.check(head.headers, uri: head.uri) {
            rejection.handshakeReason = rejection.status == .unauthorized ? .unauthorized : .forbidden
            throw rejection
        }
        guard !self.access.origins.patterns.isEmpty, let origin = head.headers.first(name: "origin"),
            !self.access.origins.allows(origin)
        else { return }
        let host = head.headers.first(name: "host") ?? ""
        guard !host.isEmpty, origin == "http://\(host)" || origin == "https://\(host)" else {
            throw HTTPRejection(.forbidden, "origin not allowed", handshake: .origin)
        }
    }

    /// The permessage-deflate parameters to answer an upgrade request with, or nil: compression is off, or
    /// the client made no offer the server can honour (see `DeflateNegotiation`).
    package func deflate(for head: HTTPRequestHead) -> DeflateParameters? {
        guard self.configuration.compression else { return nil }
        let offers = head.headers["sec-websocket-extensions"]
        guard !offers.isEmpty else { return nil }
        return DeflateNegotiation.negotiate(offers)
    }

    /// The channels a `/ws` request target names: the path segment after `/ws/` and every `channel=` query
    /// value, without duplicates, in order. Walks the target's bytes in place: a channel name of up to 15 bytes
    /// costs no allocation.
    package static func channels(fromTarget target: UnsafeRawBufferPointer) -> Result<ChannelList, HTTPRejection> {
        let mark = target.firstIndex(of: UInt8(ascii: "?"))
        let path = target[..<(mark ?? target.endIndex)]
        var channels = ChannelList()
        do throws(HTTPRejection) {
            if path.starts(with: "/ws/".utf8) {
                try Self.add(path.dropFirst("/ws/".utf8.count), to: &channels)
            }
            try TargetQuery.forEach(in: target) { (name, value) throws(HTTPRejection) in
                if name.elementsEqual("channel".utf8) { try Self.add(value, to: &channels) }
            }
        } catch {
            return .failure(error)
        }
        return .success(channels)
    }

    /// Validates `name` and appends it to `channels` unless it is there already.
    private static func add(
        _ name: Slice<UnsafeRawBufferPointer>,
        to channels: inout ChannelList
    ) throws(HTTPRejection) {
        let channel: ChannelName
        do {
            channel = try ChannelName(validatingUTF8: name)
        } catch {
            throw HTTPRejection(.badRequest, error.reason, handshake: .badRequest)
        }
        guard !channel.isSystem else { throw HTTPRejection.systemChannel }
        channels.appendIfAbsent(channel)
    }
}
