import ChorusCore
import NIOHTTP1

/// The one place that decides whether a request may become a WebSocket connection, and on which channels.
///
/// Checks run cheapest first: path, readiness, RFC 6455 handshake, channel names and count, then capacity.
/// Authentication and Origin checks extend `evaluate`.
package struct UpgradePolicy: Sendable {
    package let configuration: ServerConfiguration
    package let hub: Hub
    package let state: ServerState

    package init(configuration: ServerConfiguration, hub: Hub, state: ServerState) {
        self.configuration = configuration
        self.hub = hub
        self.state = state
    }

    /// What an accepted upgrade becomes.
    package enum Endpoint: Equatable, Sendable {
        /// A subscriber (`/ws`), following these channels from the start.
        case subscriber(channels: [ChannelName])
        /// The echo endpoint (`--echo-path`): every data message comes back; no channels, no control messages.
        case echo
    }

    /// Decides on an upgrade request. Capacity is only checked here; the place is taken when the connection's
    /// handler is installed (`WebSocketUpgrader.upgrade`), so a client that vanishes between the 101 and the
    /// upgrade cannot leak one.
    package func evaluate(_ head: HTTPRequestHead) -> Result<Endpoint, HTTPRejection> {
        switch Route(uri: head.uri, echoPath: self.configuration.echoPath) {
        case .webSocket, .echo:
            break
        case .publish, .health, .readiness, .metrics, .notFound:
            return .failure(HTTPRejection(.notFound, "no WebSocket endpoint at this path", handshake: .badRequest))
        }
        guard self.state.isAccepting else {
            return .failure(HTTPRejection(.serviceUnavailable, "server is shutting down", handshake: .overCapacity))
        }
        let outcome = HandshakeValidator.validate(
            method: head.method.rawValue,
            versionMajor: head.version.major,
            versionMinor: head.version.minor,
            headers: head.headers.map { (name: $0.name, value: $0.value) }
        )
        if case .reject(let status, let reason, let extraHeaders) = outcome {
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
        do {
            endpoint = try self.endpoint(for: head.uri)
        } catch {
            return .failure(error)
        }
        if case .subscriber(let channels) = endpoint, channels.count > self.configuration.maxSubscriptions {
            return .failure(
                HTTPRejection(
                    .badRequest,
                    "too many channels: at most \(self.configuration.maxSubscriptions) per connection",
                    handshake: .badRequest
                )
            )
        }
        guard self.hub.reservedConnections < self.configuration.maxConnections else {
            return .failure(HTTPRejection(.serviceUnavailable, "server is at capacity", handshake: .overCapacity))
        }
        return .success(endpoint)
    }

    /// The permessage-deflate parameters to answer an upgrade request with, or nil: compression is off, or
    /// the client made no offer the server can honour (see `DeflateNegotiation`).
    package func deflate(for head: HTTPRequestHead) -> DeflateParameters? {
        guard self.configuration.compression else { return nil }
        let offers = head.headers["sec-websocket-extensions"]
        guard !offers.isEmpty else { return nil }
        return DeflateNegotiation.negotiate(offers)
    }

    /// The endpoint a WebSocket URI names (the echo path, or `/ws` with its channels). Throws for a path that is
    /// no WebSocket endpoint and for invalid channel names.
    package func endpoint(for uri: String) throws(HTTPRejection) -> Endpoint {
        switch Route(uri: uri, echoPath: self.configuration.echoPath) {
        case .echo:
            return .echo
        case .webSocket:
            return .subscriber(channels: try Self.channels(from: uri))
        case .publish, .health, .readiness, .metrics, .notFound:
            throw HTTPRejection(.notFound, "no WebSocket endpoint at this path", handshake: .badRequest)
        }
    }

    /// The channels a `/ws` URI names: the path segment after `/ws/` and every `channel=` query value,
    /// without duplicates, in order.
    package static func channels(from uri: String) throws(HTTPRejection) -> [ChannelName] {
        let (path, query) = Route.split(uri)
        var names: [Substring] = []
        if path.hasPrefix("/ws/") {
            names.append(path.dropFirst("/ws/".count))
        }
        for pair in query?.split(separator: "&", omittingEmptySubsequences: true) ?? [] {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts[0] == "channel" {
                names.append(parts.count > 1 ? parts[1] : "")
            }
        }
        var channels: [ChannelName] = []
        for name in names {
            do {
                let channel = try ChannelName(validating: name)
                if !channels.contains(channel) { channels.append(channel) }
            } catch {
                throw HTTPRejection(.badRequest, error.reason, handshake: .badRequest)
            }
        }
        return channels
    }
}
