import NIOCore

/// An upgrade the upgrade policy admitted, decided once: the answer to send, what the connection starts with,
/// and the places it holds. The transport that carries the connection holds the ticket's places and releases them
/// exactly once, when the connection goes (or at once, if it never starts).
package struct AdmissionTicket: Sendable {
    /// The `101` to answer with.
    package var answer: SwitchingProtocols
    /// The wire protocol the connection speaks.
    package var wireProtocol: WireProtocol
    /// Channels to follow from the start (already checked against the subscription limit and the token).
    package var channels: ChannelList
    /// Where a `chorus.v1` connection recovers its initial channels from (`?since=41&epoch=…`), or nil.
    package var since: StreamPosition?
    /// The token's permissions; nil without tokens.
    package var grant: ChannelGrant?
    /// When the connection's token expires; nil without a token.
    package var tokenExpiry: NIODeadline?
    /// The places taken for the connection.
    package var places: AdmissionPlaces

    package init(
        answer: SwitchingProtocols,
        wireProtocol: WireProtocol,
        channels: ChannelList,
        since: StreamPosition? = nil,
        grant: ChannelGrant?,
        tokenExpiry: NIODeadline?,
        places: AdmissionPlaces
    ) {
        self.answer = answer
        self.wireProtocol = wireProtocol
        self.channels = channels
        self.since = since
        self.grant = grant
        self.tokenExpiry = tokenExpiry
        self.places = places
    }

    /// The permessage-deflate parameters the connection uses (those of its answer).
    package var deflate: DeflateParameters? { self.answer.deflate }
}
