/// Why the epoll transport handed a connection to the HTTP side instead of upgrading it itself. The HTTP side
/// answers plain requests and refusals as the NIO transport does; an upgrade it would accept, it cannot (it has no
/// shard), and refuses for this reason instead.
package enum HandOffReason: Sendable {
    /// A complete head without `Upgrade: websocket`: plain HTTP.
    case notAnUpgrade
    /// An upgrade the front door refused, with its refusal: the HTTP side answers with it, deciding nothing again.
    case refused(any Error & Sendable)
    /// A head this side does not read (a body, an unusual line): the HTTP side parses it.
    case unsupported
    /// No complete head within `EpollTransportSettings.maxHeadBytes`, or a complete one longer than it.
    case headTooLarge
}
