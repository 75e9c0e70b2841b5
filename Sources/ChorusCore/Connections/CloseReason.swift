/// Why a connection ended, from a closed set: the `reason` label of `chorus_connections_closed_total` (never user
/// input).
package enum CloseReason: Int, CaseIterable, Sendable {
    case normal
    case goingAway
    case protocolError
    case tooLarge
    case invalidUTF8
    case slowConsumer
    case idleTimeout
    case shutdown
    case error
    case tokenExpired
    /// Closed with 1008 for breaking a rule of the server (a malformed control message, a subscription or publish
    /// outside its permissions or limits), not of the WebSocket protocol.
    case policyViolation
    /// Closed with 1008 for sending more control frames (pings, pongs) per second than allowed.
    case controlFrameFlood

    /// The label used in logs and metrics.
    package var label: String {
        switch self {
        case .normal: "normal"
        case .goingAway: "going_away"
        case .protocolError: "protocol_error"
        case .tooLarge: "too_large"
        case .invalidUTF8: "invalid_utf8"
        case .slowConsumer: "slow_consumer"
        case .idleTimeout: "idle_timeout"
        case .shutdown: "shutdown"
        case .error: "error"
        case .tokenExpired: "token_expired"
        case .policyViolation: "policy_violation"
        case .controlFrameFlood: "control_frame_flood"
        }
    }

    /// The reason implied by a close code we send because the peer misbehaved.
    package init(failure code: CloseCode) {
        switch code {
        case .messageTooBig: self = .tooLarge
        case .invalidPayload: self = .invalidUTF8
        case .protocolError: self = .protocolError
        default: self = .protocolError
        }
    }
}
