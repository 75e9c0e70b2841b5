import ChorusCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// `GET /history/{channel}?since=N&epoch=E&limit=M`: the messages a channel's history holds after an offset, for
/// a publisher (the same check as `POST /publish`) to read back or for a backend to catch up.
///
/// The answer is `{"channel":…,"epoch":…,"offset":<latest>,"recoverable":…,"messages":[…]}`, messages oldest
/// first: `{"offset":N,"data":<JSON value>}` for a text message (its data as `chorus.v1` delivers it, copied as
/// it is), `{"offset":N,"base64":"…"}` for a binary one. A channel without a stream (never published to, or its
/// stream expired or was evicted) is 404.
struct HistoryEndpoint {
    let hub: Hub
    let authorizer: PublishAuthorizer

    /// The answer to a request for `name`'s history; `query` is the request target's query part.
    func answer(
        _ head: HTTPRequestHead,
        channel name: Substring,
        query: Substring?,
        peer: SocketAddress?
    ) -> HTTPAnswer {
        let channel: ChannelName
        do {
            channel = try ChannelName(validating: name)
        } catch {
            return HTTPAnswer(HTTPRejection(.badRequest, error.reason))
        }
        guard !channel.isSystem else { return HTTPAnswer(.systemChannel) }
        if let rejection = self.authorizer.check(head.headers, peer: peer) {
            return HTTPAnswer(rejection)
        }
        let parameters: HistoryQuery
        do {
            parameters = try HistoryQuery(parsing: query)
        } catch {
            return HTTPAnswer(error)
        }
        let now = NIODeadline.now()
        // Under the lock only the copy of the entries (references to the shared frames); the JSON comes after.
        let history = self.hub.streams.withLockedValue {
            $0.history(of: channel, after: parameters.since, limit: parameters.limit, now: now)
        }
        guard let (position, messages) = history.map({ ($0.position, $0.messages) }) else {
            return HTTPAnswer(HTTPRejection(.notFound, "channel has no stream (nothing published recently)"))
        }
        let recoverable = Self.isRecoverable(
            since: parameters.since ?? 0,
            epoch: parameters.epoch,
            position: position,
            firstOffset: messages.first?.offset
        )
        let body = Self.body(channel: channel, position: position, recoverable: recoverable, messages: messages)
        return HTTPAnswer(status: .ok, contentType: "application/json", body: body)
    }

    /// Whether a client that last saw `since` in `epoch` gets every message after it from this answer (or from
    /// the next ones, `limit` at a time): the epoch is the stream's (or not given), and `since` is the latest
    /// offset or history still holds the one after it. `firstOffset` is the first message after `since` that
    /// history holds, nil when none. A client ahead of the stream knew another life of it.
    static func isRecoverable(since: UInt64, epoch: Epoch?, position: StreamPosition, firstOffset: UInt64?) -> Bool {
        if let epoch, epoch != position.epoch { return false }
        if since == position.offset { return true }
        return since < position.offset && firstOffset == since + 1
    }

    /// The JSON answer, ending with a newline like the other JSON answers.
    static func body(
        channel: ChannelName,
        position: StreamPosition,
        recoverable: Bool,
        messages: [HistoryEntry],
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) -> ByteBuffer {
        let head =
            #"{"channel":"\#(channel.value)","epoch":"\#(position.epoch.value)","offset":\#(position.offset),"#
            + #""recoverable":\#(recoverable),"messages":["#
        // Sized once: the data's bytes (a third more as base64) and a few dozen bytes around each message.
        let dataBytes = messages.reduce(0) { total, entry in
            let count = entry.dataRange.count
            return total + (entry.isBinary ? Base64.encodedCount(count) : count) + 40
        }
        var body = allocator.buffer(capacity: head.utf8.count + dataBytes + 3)
        body.writeString(head)
        for (index, entry) in messages.enumerated() {
            if index > 0 { body.writeStaticString(",") }
            body.writeString(#"{"offset":\#(entry.offset),"#)
            if entry.isBinary {
                body.writeStaticString(#""base64":""#)
                Base64.write(entry.data, to: &body)
                body.writeStaticString(#""}"#)
            } else {
                // Already a JSON value (the published JSON text, or the text as a JSON string).
                body.writeStaticString(#""data":"#)
                body.writeImmutableBuffer(entry.data)
                body.writeStaticString("}")
            }
        }
        body.writeStaticString("]}\n")
        return body
    }
}
