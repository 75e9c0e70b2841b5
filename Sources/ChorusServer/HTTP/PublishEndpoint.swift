import ChorusCore
import NIOCore
import NIOHTTP1

/// `POST /publish/{channel}`: from an assembled request to its answer. Checks run cheapest and most certain
/// first (the channel name, then who may publish, then the body), and nothing reaches the hub unless all pass.
struct PublishEndpoint {
    let hub: Hub
    let state: ServerState
    let authorizer: PublishAuthorizer

    /// Publishes `body` on `name` and hands the answer to `respond`, on `eventLoop` (at once when the request is
    /// refused, once the hub has fanned it out otherwise). Every publish is answered, a failed one too. A callback,
    /// not a chain of futures: each `map` or `recover` would cost the publish path a promise and a closure.
    func answer(
        _ head: HTTPRequestHead,
        channel name: Substring,
        body: ByteBuffer,
        peer: SocketAddress?,
        on eventLoop: any EventLoop,
        _ respond: @escaping (HTTPAnswer) -> Void
    ) {
        let channel: ChannelName
        do {
            channel = try ChannelName(validating: name)
        } catch {
            return respond(HTTPAnswer(HTTPRejection(.badRequest, error.reason)))
        }
        guard !channel.isSystem else { return respond(HTTPAnswer(.systemChannel)) }
        if let rejection = self.authorizer.check(head.headers, peer: peer) {
            return respond(HTTPAnswer(rejection))
        }
        let opcode = Self.opcode(forContentType: head.headers.first(name: "content-type"))
        if opcode == .text {
            var validator = UTF8Validator()
            guard validator.feed(body), validator.isAtCharacterBoundary else {
                return respond(HTTPAnswer(HTTPRejection(.badRequest, "text body is not valid UTF-8")))
            }
        }
        guard self.state.isAccepting else {
            // Shutdown has begun: subscribers here are being closed, so the message would reach nobody; another
            // instance can take it. The connection ends with the answer, so the retry goes elsewhere.
            let rejection = HTTPRejection(
                .serviceUnavailable,
                "server is shutting down; retry on another instance",
                headers: [("Retry-After", "1")]
            )
            return respond(HTTPAnswer(rejection, closeAfter: true))
        }
        let clustered = self.hub.clusterBus != nil
        // A JSON body is embedded as it is in `chorus.v1` deliveries; any other text as a JSON string.
        let isJSON = opcode == .text && Self.isJSONMediaType(head.headers.first(name: "content-type"))
            && JSONScanner.isJSONText(body)
        self.hub.broadcast(
            body,
            opcode: opcode,
            to: channel,
            source: .http,
            on: eventLoop,
            options: PublishOptions(isJSON: isJSON)
        )
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let reached): respond(HTTPAnswer(status: .ok, json: Self.success(reached, channel: channel)))
                case .failure(let error): respond(HTTPAnswer(Self.failure(error, clustered: clustered)))
                }
            }
    }

    /// The 200 answer to a publish: `delivered` on a single node; in cluster mode `clustered` and either the
    /// nodes Redis handed it to (`nodes`), or, with Redis down, the local subscribers it reached (`delivered`); then
    /// the message's `offset` and `epoch` when known.
    static func success(_ result: PublishResult, channel: ChannelName) -> String {
        let position = result.position.map { #","offset":\#($0.offset),"epoch":"\#($0.epoch.value)""# } ?? ""
        switch result.reach {
        case .delivered(let count):
            return #"{"channel":"\#(channel.value)","delivered":\#(count)\#(position)}"#
        case .clustered(let receivers):
            return #"{"channel":"\#(channel.value)","clustered":true,"nodes":\#(receivers)\#(position)}"#
        case .localOnly(let count):
            return #"{"channel":"\#(channel.value)","clustered":false,"delivered":\#(count)\#(position)}"#
        }
    }

    /// The answer to a publish that failed.
    static func failure(_ error: any Error, clustered: Bool) -> HTTPRejection {
        if let overloaded = error as? PublishOverloaded {
            // Nothing went out anywhere: retrying later is safe.
            var rejection = HTTPRejection(
                .serviceUnavailable,
                "overloaded: an event loop has \(overloaded.limit) publishes waiting; retry later"
            )
            rejection.headers.append(("Retry-After", "1"))
            return rejection
        }
        if clustered {
            // Handed to Redis, then the connection dropped: it may or may not have gone out, so it was not
            // delivered locally either (a retry must not reach anyone twice).
            return HTTPRejection(.serviceUnavailable, "cluster publish failed; it may not have been delivered")
        }
        return HTTPRejection(.internalServerError, "publish failed")
    }

    /// Whether the content type is `application/json` (parameters ignored).
    static func isJSONMediaType(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1)[...].first ?? ""
        return mediaType.trimmingSpaces().lowercased() == "application/json"
    }

    /// `text/*` and `application/json` are delivered as text frames; anything else as binary.
    static func opcode(forContentType contentType: String?) -> WebSocketOpcode {
        guard let contentType else { return .binary }
        let mediaType = contentType.split(separator: ";", maxSplits: 1)[...].first ?? ""
        let normalized = mediaType.trimmingSpaces().lowercased()
        return normalized.hasPrefix("text/") || normalized == "application/json" ? .text : .binary
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> Substring {
        let trimmedStart = self.drop { $0 == " " || $0 == "\t" }
        var end = trimmedStart.endIndex
        while end > trimmedStart.startIndex, [" ", "\t"].contains(trimmedStart[trimmedStart.index(before: end)]) {
            end = trimmedStart.index(before: end)
        }
        return Substring(trimmedStart[..<end])
    }
}
