import ChorusCore
import NIOHTTP1

/// The one place that decides whether a request may become a WebSocket connection, and on which channels.
///
/// Checks run cheapest first: path, readiness, RFC 6455 handshake, channel names and count, then capacity
/// (which reserves a place, so it must come last). Authentication and Origin checks extend `evaluate`.
package struct UpgradePolicy: Sendable {
    package let configuration: ServerConfiguration
    package let hub: Hub
    package let state: ServerState

    package init(configuration: ServerConfiguration, hub: Hub, state: ServerState) {
        self.configuration = configuration
        self.hub = hub
        self.state = state
    }

    /// Decides on an upgrade request. On success a connection place is reserved: the caller must return it
    /// with `hub.releaseConnection()` when the connection ends.
    package func evaluate(_ head: HTTPRequestHead) -> Result<[ChannelName], HTTPRejection> {
        guard case .webSocket = Route(uri: head.uri) else {
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
        let channels: [ChannelName]
        do {
            channels = try Self.channels(from: head.uri)
        } catch {
            return .failure(error)
        }
        guard channels.count <= self.configuration.maxSubscriptions else {
            return .failure(
                HTTPRejection(
                    .badRequest,
                    "too many channels: at most \(self.configuration.maxSubscriptions) per connection",
                    handshake: .badRequest
                )
            )
        }
        guard self.hub.reserveConnection(limit: self.configuration.maxConnections) else {
            return .failure(HTTPRejection(.serviceUnavailable, "server is at capacity", handshake: .overCapacity))
        }
        return .success(channels)
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
