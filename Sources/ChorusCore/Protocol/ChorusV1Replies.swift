import NIOCore

/// The control messages a `chorus.v1` connection receives besides deliveries (README, "Never miss a message"):
///
/// - `{"subscribed":"news","offset":42,"epoch":"k3J9aB7x","recovered":false}`: the subscription holds; live messages
///   follow from `offset` + 1 (after the missed ones when `recovered` is true);
/// - `{"unsubscribed":"news"}`;
/// - `{"error":"forbidden","reason":"…","channel":"news"}`: a request refused, the connection stays open;
/// - `{"resync":"news","offset":42,"epoch":"k3J9aB7x"}`: messages of the channel may have been missed; recover from
///   the last offset seen, or reload.
package enum ChorusV1Replies {
    /// Why a request was refused (the `error` member).
    package enum ErrorCode: String, Sendable {
        /// Not a valid `chorus.v1` request.
        case badRequest = "bad_request"
        /// The connection's token does not allow it.
        case forbidden
        /// Client publishing is off (`--client-publish`).
        case publishDisabled = "publish_disabled"
        /// Past `--max-subscriptions`.
        case tooManySubscriptions = "too_many_subscriptions"
        /// Subscribing to a channel the connection already follows.
        case alreadySubscribed = "already_subscribed"
        /// The server refused the publish for now (its loops have too many publishes waiting); retry later.
        case overloaded
    }

    package static func subscribed(_ channel: ChannelName, _ position: StreamPosition, recovered: Bool) -> String {
        #"{"subscribed":"\#(channel.value)","offset":\#(position.offset),"epoch":"\#(position.epoch.value)","recovered":\#(recovered)}"#
    }

    package static func unsubscribed(_ channel: ChannelName) -> String {
        #"{"unsubscribed":"\#(channel.value)"}"#
    }

    package static func error(_ code: ErrorCode, _ reason: String, channel: ChannelName? = nil) -> String {
        let channelMember = channel.map { #","channel":"\#($0.value)""# } ?? ""
        return #"{"error":"\#(code.rawValue)","reason":\#(JSONString.quoted(reason))\#(channelMember)}"#
    }

    package static func resync(_ channel: ChannelName, _ position: StreamPosition) -> String {
        #"{"resync":"\#(channel.value)","offset":\#(position.offset),"epoch":"\#(position.epoch.value)"}"#
    }

    /// Writes `reply` to connection `id` as a text message (with the slow-consumer policy of any delivery).
    package static func send(_ reply: String, to id: ConnectionID, shard: Shard) {
        let frame = Frame(opcode: .text, payload: ByteBuffer(string: reply))
        shard.deliver(frame, toConnection: id)
    }
}
