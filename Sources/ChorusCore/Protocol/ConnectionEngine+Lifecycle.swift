import NIOCore

extension ConnectionEngine {
    /// Starts connection `id`, just registered by its transport (`Shard.register`), as its upgrade decided: its
    /// permessage-deflate window and wire protocol (counted while they last), the channels it follows from the start
    /// (already checked by the upgrade policy; a `chorus.v1` connection is answered for each, recovering from `since`
    /// when it gave one) and its token's expiry.
    package static func opened(
        _ id: ConnectionID,
        wireProtocol: WireProtocol,
        deflateWindowBits: UInt8,
        channels: ChannelList,
        since: StreamPosition? = nil,
        tokenExpiry: NIODeadline?,
        shard: Shard,
        hub: Hub
    ) {
        if deflateWindowBits != 0 {
            shard.setDeflateWindowBits(id, deflateWindowBits)
            hub.compressionConnectionOpened()
        }
        // Set here rather than at registration, so that the block says `chorus.v1` (and `released` uncounts it) only
        // once it was counted.
        shard.setWireProtocol(id, wireProtocol)
        if wireProtocol == .chorusV1 {
            hub.chorusV1ConnectionOpened()
            for channel in channels {
                ChorusV1Commands.subscribe(id, to: channel, since: since, shard: shard, hub: hub)
            }
        } else {
            for channel in channels {
                _ = shard.subscribe(id, to: channel)
            }
        }
        if let tokenExpiry { shard.setTokenExpiry(id, tokenExpiry) }
    }

    /// Releases what connection `id` holds once its socket is closed, exactly once: its block (subscriptions and
    /// counters, `reason` counted; no reason counts as an error), its compression count, its admission places. The
    /// transport returns its decoder's buffers itself.
    package static func released(
        _ id: ConnectionID,
        reason: CloseReason?,
        places: AdmissionPlaces?,
        shard: Shard,
        hub: Hub
    ) {
        // Opened with compression only if `opened` ran: the block says so, whenever the socket went.
        let compressed = shard.slab.isValid(id) && shard.slab[index: id.index].deflateWindowBits != 0
        let chorusV1 = shard.slab.isValid(id) && shard.slab[index: id.index].wireProtocol == .chorusV1
        shard.release(id, reason: reason ?? .error)
        if compressed { hub.compressionConnectionClosed() }
        if chorusV1 { hub.chorusV1ConnectionClosed() }
        places?.release()
    }
}
