import NIOCore

/// Every channel's stream on this node: offsets and epochs, history, and the budget that bounds them.
///
/// Guarded by the hub's lock. Streams are kept in a list by last publish, least recent first, so that expiry and
/// eviction take the oldest in O(1): a channel's history goes `ttl` after its last publish, its offset and epoch
/// `streamTTL` after it (or when the byte budget needs the room: least recently published first), and a stream that
/// comes back afterwards starts a new epoch.
package struct StreamRegistry {
    package let settings: HistorySettings
    private var slots: [ChannelStream?] = []
    private var freeSlots: [Int32] = []
    private var index: [ChannelName: Int32] = [:]
    /// Least and most recently published streams (slots, -1 for none).
    private var oldest: Int32 = -1
    private var newest: Int32 = -1
    /// The least recently published stream that may still hold history: every older one holds none, so expiry
    /// never walks over streams it already emptied.
    private var historyCursor: Int32 = -1

    /// Bytes of streams and history, against `settings.maxBytes`.
    package private(set) var totalBytes = 0
    /// Messages and bytes held in history.
    package private(set) var historyMessages = 0
    package private(set) var historyBytes = 0
    /// Streams with at least one message in history.
    package private(set) var streamsWithHistory = 0
    /// Streams dropped to keep within the budget, and streams expired after `streamTTL`.
    package private(set) var evictedStreams = 0
    package private(set) var expiredStreams = 0
    /// Recoveries by outcome (indexed by `RecoveryOutcome.rawValue`), and the messages they replayed.
    package private(set) var recoveries = [Int](repeating: 0, count: RecoveryOutcome.allCases.count)
    package private(set) var replayedMessages = 0
    /// Channels whose missing cluster messages are being read (rare: only after a gap), and the next fill's name.
    private var fills: [ChannelName: GapFill] = [:]
    private var lastFillID: UInt64 = 0

    /// Where the frames history keeps are made (see `FrameArena`: bounded by the history budget).
    package let arena: FrameArena

    package init(settings: HistorySettings) {
        self.settings = settings
        self.arena = FrameArena(limit: settings.maxBytes)
    }

    /// Streams known (with or without history).
    package var streamCount: Int { self.index.count }

    // MARK: Publishing

    /// The position of the next message on `channel` (a new stream, with a new epoch, if the channel has none), which
    /// becomes its latest: the caller publishes at it.
    package mutating func advance(_ channel: ChannelName, now: NIODeadline) -> StreamPosition {
        self.expire(now: now)
        let slot = self.slot(for: channel, now: now)
        if self.slots[Int(slot)]!.isClusters {
            // Delivered here only (Redis is away): a local epoch, which the cluster's next message replaces.
            self.dropHistory(slot)
            self.slots[Int(slot)]!.epoch = .random()
            self.slots[Int(slot)]!.isClusters = false
        }
        self.slots[Int(slot)]!.top += 1
        self.touch(slot, now: now)
        return self.slots[Int(slot)]!.position
    }

    /// Keeps `entry` (just published on `channel` at `advance`'s position) in the channel's history, when history is
    /// on, then evicts the least recently published streams while over the budget.
    package mutating func keep(_ entry: HistoryEntry, on channel: ChannelName) {
        guard self.settings.isOn, let slot = self.index[channel] else { return }
        let wasEmpty = self.slots[Int(slot)]!.history.isEmpty
        let evicted = self.slots[Int(slot)]!.history.append(entry, capacity: self.settings.size)
        let growth = entry.cost - (evicted?.cost ?? 0)
        self.slots[Int(slot)]!.historyBytes += growth
        self.historyBytes += growth
        self.totalBytes += growth
        if evicted == nil { self.historyMessages += 1 }
        if wasEmpty {
            self.streamsWithHistory += 1
            if self.historyCursor == -1 { self.historyCursor = slot }
        }
        self.evictOverBudget(sparing: slot)
    }

    /// How a message whose position the cluster assigned fits the channel's stream here (see `record`).
    package enum Arrival: Equatable, Sendable {
        /// The next one (or the first this node sees of the channel).
        case next
        /// At or below the latest offset of the same epoch: already delivered here; dropped.
        case stale
        /// Offsets between `last` and this message never arrived here.
        case gap(last: StreamPosition)
        /// Offsets between `last` and this message never arrived here, and fill `id` now waits for them: the stream
        /// stays at `last`; the caller holds this message (`hold`) and reads the missing ones.
        case filling(id: UInt64, last: StreamPosition)
        /// Fill `id` of the channel is under way: the caller holds this message behind it.
        case held(id: UInt64)
        /// The stream started a new epoch (history was lost in the cluster); `last` was the old one's position.
        case newEpoch(last: StreamPosition)
    }

    /// Takes `position`, assigned by the cluster, as the channel's latest (unless it is stale) and says how it fits.
    /// With `fillingGaps`, a gap in the same epoch starts a fill instead (see `Arrival.filling`).
    package mutating func record(
        _ channel: ChannelName,
        at position: StreamPosition,
        now: NIODeadline,
        fillingGaps: Bool = false
    ) -> Arrival {
        if !self.fills.isEmpty, let fill = self.fills[channel] { return .held(id: fill.id) }
        self.expire(now: now)
        guard let slot = self.index[channel] else {
            self.makeClusterStream(channel, at: position, now: now)
            return .next
        }
        self.slots[Int(slot)]!.isClusters = true
        let last = self.slots[Int(slot)]!.position
        let arrival: Arrival
        if position.epoch != last.epoch {
            self.dropHistory(slot)
            self.slots[Int(slot)]!.epoch = position.epoch
            // A stream this node only answered subscriptions for (offset 0) had not really started here.
            arrival = last.offset == 0 ? .next : .newEpoch(last: last)
        } else if position.offset <= last.offset {
            return .stale
        } else if position.offset == last.offset + 1 {
            arrival = .next
        } else if fillingGaps {
            self.lastFillID += 1
            self.fills[channel] = GapFill(id: self.lastFillID, last: last)
            return .filling(id: self.lastFillID, last: last)
        } else {
            // History here would have a hole, which recovery (and the ring's offset arithmetic) cannot see: what it
            // held is dropped, and the cluster's history fills in below the messages kept from now on.
            self.dropHistory(slot)
            arrival = .gap(last: last)
        }
        self.slots[Int(slot)]!.top = position.offset
        self.touch(slot, now: now)
        return arrival
    }

    /// Holds `arrival` behind the channel's fill; false when the fill already holds `GapFill.maxHeld`.
    package mutating func hold(_ arrival: HeldArrival, on channel: ChannelName) -> Bool {
        guard self.fills[channel]?.held.count ?? GapFill.maxHeld < GapFill.maxHeld else { return false }
        self.fills[channel]!.held.append(arrival)
        return true
    }

    /// Ends fill `id` of `channel` and gives back what it held; nil when that fill already ended.
    package mutating func endFill(_ channel: ChannelName, id: UInt64) -> GapFill? {
        guard self.fills[channel]?.id == id else { return nil }
        return self.fills.removeValue(forKey: channel)
    }

    /// Takes the cluster's position of a channel (before answering a subscription), so that this node answers with
    /// the cluster's epoch and offset: for a channel it has no stream for, or, with `refresh`, one it stopped
    /// following (no local subscribers: the messages since went elsewhere), whose history here then has a hole.
    package mutating func adopt(_ channel: ChannelName, at position: StreamPosition, refresh: Bool, now: NIODeadline) {
        self.expire(now: now)
        guard let slot = self.index[channel] else {
            return self.makeClusterStream(channel, at: position, now: now)
        }
        let local = self.slots[Int(slot)]!.position
        guard refresh, local.epoch != position.epoch || local.offset < position.offset else { return }
        self.dropHistory(slot)
        self.slots[Int(slot)]!.epoch = position.epoch
        self.slots[Int(slot)]!.top = position.offset
        self.slots[Int(slot)]!.isClusters = true
    }

    /// A new stream for `channel` at the cluster's `position`.
    private mutating func makeClusterStream(_ channel: ChannelName, at position: StreamPosition, now: NIODeadline) {
        let slot = self.slot(for: channel, now: now, epoch: position.epoch)
        self.slots[Int(slot)]!.top = position.offset
        self.slots[Int(slot)]!.isClusters = true
    }

    /// The channel's latest position here, or nil when it has no stream.
    package func existingPosition(of channel: ChannelName) -> StreamPosition? {
        self.index[channel].map { self.slots[Int($0)]!.position }
    }

    /// Whether this node's history alone can replay what a subscriber that last saw `since` missed.
    package func canRecoverLocally(_ channel: ChannelName, since: StreamPosition) -> Bool {
        guard let slot = self.index[channel] else { return false }
        let stream = self.slots[Int(slot)]!
        guard stream.epoch == since.epoch, since.offset <= stream.top else { return true }  // answered: mismatch
        if since.offset == stream.top { return true }
        guard let oldest = stream.history.oldestOffset else { return false }
        return oldest <= since.offset + 1
    }

    // MARK: Reading

    /// The channel's latest position (a new stream if it has none): what a subscription starts from.
    package mutating func position(of channel: ChannelName, now: NIODeadline) -> StreamPosition {
        self.expire(now: now)
        return self.slots[Int(self.slot(for: channel, now: now))]!.position
    }

    /// What a subscriber that last saw `since` missed on `channel`: the stream's latest position and, when they
    /// can all be replayed, the messages after `since.offset` in order.
    ///
    /// `cluster` holds messages read from the cluster's history, for the offsets this node's history lacks.
    package mutating func recover(
        _ channel: ChannelName,
        since: StreamPosition,
        now: NIODeadline,
        cluster: [HistoryEntry] = []
    ) -> (position: StreamPosition, outcome: RecoveryOutcome, missed: [HistoryEntry]) {
        let recovery = self.attemptRecovery(channel, since: since, now: now, cluster: cluster)
        self.recoveries[recovery.outcome.rawValue] += 1
        self.replayedMessages += recovery.missed.count
        return recovery
    }

    private mutating func attemptRecovery(
        _ channel: ChannelName,
        since: StreamPosition,
        now: NIODeadline,
        cluster: [HistoryEntry]
    ) -> (position: StreamPosition, outcome: RecoveryOutcome, missed: [HistoryEntry]) {
        let position = self.position(of: channel, now: now)
        guard self.settings.isOn else { return (position, .disabled, []) }
        // A client ahead of the stream knew another life of it.
        guard since.epoch == position.epoch, since.offset <= position.offset else {
            return (position, .epochMismatch, [])
        }
        let missed = position.offset - since.offset
        if missed == 0 { return (position, .recovered, []) }
        let history = self.slots[Int(self.index[channel]!)]!.history
        let oldestHere = history.oldestOffset ?? position.offset + 1
        // The cluster's messages fill in below what this node holds; together they must reach back to since + 1.
        let fromCluster = cluster.filter { $0.offset > since.offset && $0.offset < oldestHere }
        let reach = fromCluster.first?.offset ?? oldestHere
        guard reach <= since.offset + 1, UInt64(fromCluster.count) == min(oldestHere, position.offset + 1) - reach
        else { return (position, .tooOld, []) }
        guard missed <= UInt64(self.settings.recoveryMaxMessages) else { return (position, .tooMany, []) }
        return (position, .recovered, fromCluster + history.entries(after: since.offset))
    }

    /// The channel's history after `offset` (all of it when nil), at most `limit` messages, with its latest position;
    /// nil when the channel has no stream.
    package mutating func history(
        of channel: ChannelName,
        after offset: UInt64?,
        limit: Int,
        now: NIODeadline
    ) -> (position: StreamPosition, messages: [HistoryEntry])? {
        self.expire(now: now)
        guard let slot = self.index[channel] else { return nil }
        let stream = self.slots[Int(slot)]!
        return (stream.position, stream.history.entries(after: offset ?? 0, limit: limit))
    }

    // MARK: Expiry and eviction

    /// Drops the history of channels not published to for `ttl`, and the streams not published to for `streamTTL`.
    package mutating func expire(now: NIODeadline) {
        while self.historyCursor != -1 {
            let stream = self.slots[Int(self.historyCursor)]!
            guard stream.lastPublish + self.settings.ttl <= now else { break }
            self.dropHistory(self.historyCursor)
            self.historyCursor = stream.newer
        }
        while self.oldest != -1, self.slots[Int(self.oldest)]!.lastPublish + self.settings.streamTTL <= now {
            self.remove(self.oldest)
            self.expiredStreams += 1
        }
    }

    private mutating func evictOverBudget(sparing current: Int32) {
        while self.totalBytes > self.settings.maxBytes, self.oldest != -1, self.oldest != current {
            self.remove(self.oldest)
            self.evictedStreams += 1
        }
    }

    private mutating func dropHistory(_ slot: Int32) {
        let bytes = self.slots[Int(slot)]!.historyBytes
        guard bytes > 0 else { return }
        self.historyMessages -= self.slots[Int(slot)]!.history.count
        self.historyBytes -= bytes
        self.totalBytes -= bytes
        self.streamsWithHistory -= 1
        self.slots[Int(slot)]!.history.removeAll()
        self.slots[Int(slot)]!.historyBytes = 0
    }

    // MARK: Slots and the list by last publish

    private mutating func slot(for channel: ChannelName, now: NIODeadline, epoch: Epoch? = nil) -> Int32 {
        if let slot = self.index[channel] { return slot }
        let stream = ChannelStream(channel: channel, epoch: epoch ?? .random(), now: now)
        let slot: Int32
        if let free = self.freeSlots.popLast() {
            slot = free
            self.slots[Int(slot)] = stream
        } else {
            slot = Int32(self.slots.count)
            self.slots.append(stream)
        }
        self.index[channel] = slot
        self.totalBytes += ChannelStream.overheadBytes
        self.link(slot)
        // Streams alone count too (many channels subscribed to, or published with history off).
        self.evictOverBudget(sparing: slot)
        return slot
    }

    /// Marks `slot` as published now: it moves to the newest end of the list.
    private mutating func touch(_ slot: Int32, now: NIODeadline) {
        self.slots[Int(slot)]!.lastPublish = now
        guard slot != self.newest else { return }
        if self.historyCursor == slot { self.historyCursor = self.slots[Int(slot)]!.newer }
        self.unlink(slot)
        self.link(slot)
    }

    private mutating func remove(_ slot: Int32) {
        self.dropHistory(slot)
        if self.historyCursor == slot { self.historyCursor = self.slots[Int(slot)]!.newer }
        self.unlink(slot)
        let stream = self.slots[Int(slot)].take()!
        self.index[stream.channel] = nil
        self.freeSlots.append(slot)
        self.totalBytes -= ChannelStream.overheadBytes
    }

    /// Appends `slot` at the newest end.
    private mutating func link(_ slot: Int32) {
        self.slots[Int(slot)]!.older = self.newest
        self.slots[Int(slot)]!.newer = -1
        if self.newest != -1 { self.slots[Int(self.newest)]!.newer = slot } else { self.oldest = slot }
        self.newest = slot
    }

    private mutating func unlink(_ slot: Int32) {
        let older = self.slots[Int(slot)]!.older
        let newer = self.slots[Int(slot)]!.newer
        if older != -1 { self.slots[Int(older)]!.newer = newer } else { self.oldest = newer }
        if newer != -1 { self.slots[Int(newer)]!.older = older } else { self.newest = older }
    }
}
