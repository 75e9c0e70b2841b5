import NIOCore

/// Applies a `chorus.v1` connection's text message (subscribe with or without recovery, unsubscribe, publish) and
/// answers it. A harmless mistake is answered with an error and the connection stays open; only what the grammar
/// cannot even frame (see `ConnectionEngine`) closes it.
package enum ChorusV1Commands {
    package static func apply(_ message: ByteBuffer, id: ConnectionID, shard: Shard, hub: Hub, grant: ChannelGrant?) {
        let command: ChorusV1Command
        do {
            command = try ChorusV1Command.parse(message)
        } catch {
            return ChorusV1Replies.send(ChorusV1Replies.error(.badRequest, error.reason), to: id, shard: shard)
        }
        switch command {
        case .subscribe(let channel, let since):
            if !ChannelGrant.maySubscribe(grant, to: channel) {
                let reply = ChorusV1Replies.error(.forbidden, "not allowed to subscribe to this channel", channel: channel)
                return ChorusV1Replies.send(reply, to: id, shard: shard)
            }
            Self.subscribe(id, to: channel, since: since, shard: shard, hub: hub)
        case .unsubscribe(let channel):
            // Behind any subscription of this connection still being started, so that the last request wins.
            hub.runInOrder(on: shard.eventLoop) { shard in
                guard shard.slab.isValid(id) else { return }
                shard.unsubscribe(id, from: channel)
                ChorusV1Replies.send(ChorusV1Replies.unsubscribed(channel), to: id, shard: shard)
            }
        case .publish(let channel, let data, let echo):
            Self.publish(data, of: message, to: channel, echo: echo, id: id, shard: shard, hub: hub, grant: grant)
        }
    }

    /// Subscribes connection `id` to `channel` in its stream's order (see `Hub.startSubscription`), then answers
    /// `subscribed` and replays what it missed, if it asked to recover and could.
    package static func subscribe(
        _ id: ConnectionID,
        to channel: ChannelName,
        since: StreamPosition?,
        shard: Shard,
        hub: Hub
    ) {
        hub.startSubscription(on: shard.eventLoop, to: channel, since: since) { shard, start in
            guard shard.slab.isValid(id), !shard.slab[index: id.index].isClosing else { return }
            switch shard.subscribe(id, to: channel) {
            case .subscribed:
                break
            case .alreadySubscribed where start.recovery != nil:
                // Resubscribing with `since` (after a `resync`): the replay comes in order before later messages.
                break
            case .alreadySubscribed:
                let reply = ChorusV1Replies.error(.alreadySubscribed, "already subscribed to this channel", channel: channel)
                return ChorusV1Replies.send(reply, to: id, shard: shard)
            case .limitReached:
                let reply = ChorusV1Replies.error(.tooManySubscriptions, "too many subscriptions", channel: channel)
                return ChorusV1Replies.send(reply, to: id, shard: shard)
            case .staleHandle:
                return
            }
            let recovered = start.recovery == .recovered
            ChorusV1Replies.send(ChorusV1Replies.subscribed(channel, start.position, recovered: recovered), to: id, shard: shard)
            for entry in start.missed {
                shard.deliver(entry.rendition.plain, compressed: entry.rendition.compressed, toConnection: id)
            }
        }
    }

    private static func publish(
        _ data: ChorusV1Command.PublishData,
        of message: ByteBuffer,
        to channel: ChannelName,
        echo: Bool,
        id: ConnectionID,
        shard: Shard,
        hub: Hub,
        grant: ChannelGrant?
    ) {
        guard shard.settings.clientPublish else {
            let reply = ChorusV1Replies.error(.publishDisabled, "client publish is disabled", channel: channel)
            return ChorusV1Replies.send(reply, to: id, shard: shard)
        }
        if !ChannelGrant.mayPublish(grant, to: channel) {
            let reply = ChorusV1Replies.error(.forbidden, "not allowed to publish to this channel", channel: channel)
            return ChorusV1Replies.send(reply, to: id, shard: shard)
        }
        let payload: ByteBuffer
        let isJSON: Bool
        switch data {
        case .text(let text):
            payload = ByteBuffer(string: text)
            isJSON = false
        case .json(let range):
            // A copy: the message's buffer goes back to the decoder's pool.
            var copy = shard.allocator.buffer(capacity: range.count)
            copy.writeImmutableBuffer(message.getSlice(at: message.readerIndex + range.lowerBound, length: range.count)!)
            payload = copy
            isJSON = true
        }
        let excluded = echo ? nil : PublisherConnection(shard: hub.shardIndex(on: shard.eventLoop), id: id)
        hub.broadcast(
            payload,
            opcode: .text,
            to: channel,
            source: .client,
            on: shard.eventLoop,
            options: PublishOptions(isJSON: isJSON, excluded: excluded)
        ).assumeIsolated().whenFailure { error in
            let reply =
                error is PublishOverloaded
                ? ChorusV1Replies.error(.overloaded, "too many publishes waiting; retry later", channel: channel)
                : ChorusV1Replies.error(.overloaded, "publish failed; it may not have been delivered", channel: channel)
            ChorusV1Replies.send(reply, to: id, shard: shard)
        }
    }
}
