import NIOHTTP1

/// Why a handshake (or a request the HTTP parser refused) was refused, from a closed set: the `reason` label of
/// `chorus_handshakes_rejected_total`.
package enum HandshakeRejectionReason: Int, CaseIterable, Sendable {
    case badRequest
    case unauthorized
    case forbidden
    case overCapacity
    case timeout
    /// An `Origin` outside `--allowed-origin` (403).
    case origin
    /// Past `--max-connections-per-ip` (429).
    case rateLimited
    /// A request head over the server's limit (431).
    case headerTooLarge
    /// Memory use over `--memory-high-watermark` (503).
    case memory
    /// Past `--max-upgrades-per-second` on this node (503; `rateLimited` is one address's connection limit).
    case rate

    package var label: String {
        switch self {
        case .badRequest: "bad_request"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .overCapacity: "over_capacity"
        case .timeout: "timeout"
        case .origin: "origin"
        case .rateLimited: "rate_limited"
        case .headerTooLarge: "header_too_large"
        case .memory: "memory"
        case .rate: "rate"
        }
    }
}

/// An HTTP error answer: status, a short reason for the body, and any headers the client needs.
package struct HTTPRejection: Error, Sendable {
    package var status: HTTPResponseStatus
    package var reason: String
    package var headers: [(String, String)] = []
    /// Set for refused WebSocket handshakes, to count them.
    package var handshakeReason: HandshakeRejectionReason?
    /// The subject of a valid token that was refused (its channel not allowed), for the debug log.
    package var subject: String?

    package init(
        _ status: HTTPResponseStatus,
        _ reason: String,
        headers: [(String, String)] = [],
        handshake: HandshakeRejectionReason? = nil
    ) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.handshakeReason = handshake
    }
}

extension HTTPRejection {
    /// A request head over `ChannelInitializer.maxRequestHeadBytes`, whichever transport read it.
    package static let requestHeadTooLarge = HTTPRejection(
        .requestHeaderFieldsTooLarge,
        "request header fields too large",
        handshake: .headerTooLarge
    )
}
