import NIOCore

/// A close a connection's own message asked for (a refused command or a protocol error).
package struct CloseRequest: Equatable, Sendable {
    package var code: CloseCode
    package var reason: String
    package var cause: CloseReason
}

/// Applies a subscriber connection's text message (subscribe, unsubscribe, publish) to its shard and hub.
/// Transport-neutral: the NIO handler and the epoll transport both call it, so the two answer alike.
package enum SubscriberCommands {
    /// Parses and applies `message` for connection `id`; returns the close to start when it is refused.
    package static func apply(
        _ message: ByteBuffer,
        id: ConnectionID,
        shard: Shard,
        hub: Hub,
        grant: ChannelGrant?
    ) -> CloseRequest? {
        let command: ControlMessage
        do {
            command = try ControlMessage.parse(message)
        } catch {
            return CloseRequest(code: .policyViolation, reason: error.reason, cause: .policyViolation)
        }
        switch command {
        case .subscribe(let channel):
            if !ChannelGrant.maySubscribe(grant, to: channel) {
                return CloseRequest(
                    code: .policyViolation,
                    reason: "not allowed to subscribe to this channel",
                    cause: .policyViolation
                )
            }
            switch shard.subscribe(id, to: channel) {
            case .subscribed, .alreadySubscribed, .staleHandle:
                return nil
            case .limitReached:
                return CloseRequest(code: .policyViolation, reason: "too many subscriptions", cause: .policyViolation)
            }
        case .unsubscribe(let channel):
            shard.unsubscribe(id, from: channel)
            return nil
        case .publish(let channel, let data):
            guard shard.settings.clientPublish else {
                return CloseRequest(code: .policyViolation, reason: "client publish is disabled", cause: .policyViolation)
            }
            if !ChannelGrant.mayPublish(grant, to: channel) {
                return CloseRequest(
                    code: .policyViolation,
                    reason: "not allowed to publish to this channel",
                    cause: .policyViolation
                )
            }
            // The count is for HTTP publishers; a client's publish needs no answer. In cluster mode it goes
            // through Redis like any other publish.
            _ = hub.broadcast(ByteBuffer(string: data), opcode: .text, to: channel, source: .client, on: shard.eventLoop)
            return nil
        }
    }
}
