import ArgumentParser

/// What the subscribers speak on the wire (`--protocol`).
enum WireProtocol: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// Chorus's original protocol: no subprotocol offered, each data frame's payload is the published message.
    case raw
    /// The `chorus.v1` subprotocol: offered in the upgrade and required in the 101; the server sends text control
    /// messages (`{"subscribed":…}`, `{"error":…}`, `{"resync":…}`), and each binary delivery carries a header
    /// (version, channel, offset, epoch) before the published bytes (`ChorusV1Header`).
    case chorusV1 = "chorus.v1"

    /// The `Sec-WebSocket-Protocol` value offered and expected back, nil for none.
    var subprotocol: String? {
        switch self {
        case .raw: nil
        case .chorusV1: "chorus.v1"
        }
    }
}
