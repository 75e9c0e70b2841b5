import NIOCore

extension ConnectionEngine {
    /// Starts connection `id`, just registered by its transport (`Shard.register`), as its upgrade decided: its
    /// permessage-deflate window (counted while it lasts), the channels it follows from the start (already checked
    /// by the upgrade policy) and its token's expiry.
    package static func opened(
        _ id: ConnectionID,
        deflateWindowBits: UInt8,
        channels: ChannelList,
        tokenExpiry: NIODeadline?,
        shard: Shard,
        hub: Hub
    ) {
        if deflateWindowBits != 0 {
            shard.setDeflateWindowBits(id, deflateWindowBits)
            hub.compressionConnectionOpened()
        }
        for channel in channels {
            _ = shard.subscribe(id, to: channel)
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
        shard.release(id, reason: reason ?? .error)
        if compressed { hub.compressionConnectionClosed() }
        places?.release()
    }
}
