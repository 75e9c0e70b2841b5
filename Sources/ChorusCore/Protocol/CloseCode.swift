/// An RFC 6455 close status code. A struct rather than an enum so that any code a peer sends can be represented.
package struct CloseCode: RawRepresentable, Hashable, Sendable {
    package var rawValue: UInt16

    package init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// 1000: the purpose of the connection has been fulfilled.
    package static let normal = CloseCode(rawValue: 1000)
    /// 1001: the server is shutting down or the client navigated away.
    package static let goingAway = CloseCode(rawValue: 1001)
    /// 1002: the peer broke the framing rules.
    package static let protocolError = CloseCode(rawValue: 1002)
    /// 1003: a data type we do not accept.
    package static let unsupportedData = CloseCode(rawValue: 1003)
    /// 1007: text that is not valid UTF-8, or a malformed control message.
    package static let invalidPayload = CloseCode(rawValue: 1007)
    /// 1008: a generic policy violation (slow consumer, forbidden channel).
    package static let policyViolation = CloseCode(rawValue: 1008)
    /// 1009: a message larger than the configured maximum.
    package static let messageTooBig = CloseCode(rawValue: 1009)
    /// 1011: the server hit an unexpected condition.
    package static let internalError = CloseCode(rawValue: 1011)
    /// 1013: overloaded; the client may retry later.
    package static let tryAgainLater = CloseCode(rawValue: 1013)

    /// Whether a peer may send `code` in a Close frame (RFC 6455 §7.4 and the IANA registry).
    ///
    /// 1004 is reserved, 1005, 1006 and 1015 are for local reporting only and must never appear on the wire.
    package static func isValidOnWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999:
            return true
        default:
            return false
        }
    }
}
