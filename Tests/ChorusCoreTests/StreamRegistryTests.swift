import ChorusTestSupport
import NIOCore
import Testing

@testable import ChorusCore

/// `StreamRegistry` on its own: offsets and epochs, history and recovery, expiry, the byte budget and cluster
/// positions, all at explicit times (never the clock).
@Suite("Stream registry: offsets, epochs, history, recovery, expiry, budget and cluster positions")
struct StreamRegistryTests {
    static let allocator = ByteBufferAllocator()
    static let a = try! ChannelName(validating: "a")
    static let b = try! ChannelName(validating: "b")
    static let c = try! ChannelName(validating: "c")
    static let d = try! ChannelName(validating: "d")
    static let e1 = Epoch("clusterA")!
    static let e2 = Epoch("clusterB")!
    static let epochAlphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    // MARK: Helpers

    /// `milliseconds` after an arbitrary origin.
    static func at(_ milliseconds: Int64) -> NIODeadline {
        .uptimeNanoseconds(1_000_000_000_000) + .milliseconds(milliseconds)
    }

    static func settings(
        size: Int = 10,
        ttl: TimeAmount = .seconds(10),
        streamTTL: TimeAmount = .seconds(100),
        maxBytes: Int = 1 << 20,
        recoveryMaxMessages: Int = 300
    ) -> HistorySettings {
        var settings = HistorySettings()
        settings.size = size
        settings.ttl = ttl
        settings.streamTTL = streamTTL
        settings.maxBytes = maxBytes
        settings.recoveryMaxMessages = recoveryMaxMessages
        return settings
    }

    /// The history entry a hub keeps for `text` published on `channel` at `position`.
    static func entry(_ channel: ChannelName, _ position: StreamPosition, _ text: String = "m") -> HistoryEntry {
        let (frame, dataRange) = ChorusV1Envelope.frame(
            ByteBuffer(string: text),
            opcode: .text,
            isJSON: false,
            channel: channel,
            position: position
        )
        return HistoryEntry(
            offset: position.offset,
            rendition: Rendition(plain: frame, compressed: nil),
            dataRange: dataRange
        )
    }

    /// A local publish, as the hub does it: `advance`, then `keep`.
    @discardableResult
    static func publish(
        _ registry: inout StreamRegistry,
        _ channel: ChannelName,
        at now: NIODeadline,
        _ text: String = "m"
    ) -> StreamPosition {
        let position = registry.advance(channel, now: now)
        registry.keep(Self.entry(channel, position, text), on: channel)
        return position
    }

    /// A cluster message, as the hub takes it: `record`, then `keep` unless stale.
    static func arrive(
        _ registry: inout StreamRegistry,
        _ channel: ChannelName,
        _ position: StreamPosition,
        at now: NIODeadline
    ) -> StreamRegistry.Arrival {
        let arrival = registry.record(channel, at: position, now: now)
        if arrival != .stale { registry.keep(Self.entry(channel, position), on: channel) }
        return arrival
    }

    /// The offsets kept in `channel`'s history (nil without a stream), read at `now` on a copy.
    static func historyOffsets(_ registry: StreamRegistry, _ channel: ChannelName, at now: NIODeadline) -> [UInt64]? {
        var copy = registry
        return copy.history(of: channel, after: nil, limit: .max, now: now)?.messages.map(\.offset)
    }

    static func position(_ offset: UInt64, _ epoch: Epoch) -> StreamPosition {
        StreamPosition(offset: offset, epoch: epoch)
    }

    /// Recomputes the registry's totals from what it answers about each of `channels` (every channel it may know)
    /// and checks them against its counters. Reads at `now` (the time of the last step) on a copy, which must then
    /// expire nothing.
    static func checkTotals(
        _ registry: StreamRegistry,
        _ channels: [ChannelName],
        at now: NIODeadline,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var copy = registry
        var streams = 0
        var messages = 0
        var bytes = 0
        var withHistory = 0
        for channel in channels {
            guard let history = copy.history(of: channel, after: nil, limit: .max, now: now) else { continue }
            streams += 1
            messages += history.messages.count
            bytes += history.messages.reduce(0) { $0 + $1.cost }
            if !history.messages.isEmpty { withHistory += 1 }
        }
        #expect(copy.streamCount == registry.streamCount, "reading expired something", sourceLocation: sourceLocation)
        #expect(registry.streamCount == streams, "streams", sourceLocation: sourceLocation)
        #expect(registry.historyMessages == messages, "historyMessages", sourceLocation: sourceLocation)
        #expect(registry.historyBytes == bytes, "historyBytes", sourceLocation: sourceLocation)
        #expect(registry.streamsWithHistory == withHistory, "streamsWithHistory", sourceLocation: sourceLocation)
        #expect(
            registry.totalBytes == bytes + streams * ChannelStream.overheadBytes,
            "totalBytes",
            sourceLocation: sourceLocation
        )
    }

    // MARK: Offsets and epochs

    @Test("offsets count 1, 2, 3 per channel, independently; each channel has its own 8-character epoch")
    func offsetsPerChannel() {
        var registry = StreamRegistry(settings: Self.settings())
        let a1 = Self.publish(&registry, Self.a, at: Self.at(0))
        let a2 = Self.publish(&registry, Self.a, at: Self.at(1))
        let b1 = Self.publish(&registry, Self.b, at: Self.at(2))
        let a3 = Self.publish(&registry, Self.a, at: Self.at(3))
        let b2 = Self.publish(&registry, Self.b, at: Self.at(4))
        #expect([a1, a2, a3].map(\.offset) == [1, 2, 3])
        #expect([b1, b2].map(\.offset) == [1, 2])
        #expect(a1.epoch == a2.epoch && a2.epoch == a3.epoch)
        #expect(b1.epoch == b2.epoch)
        #expect(a1.epoch != b1.epoch)
        for epoch in [a1.epoch, b1.epoch] {
            #expect(epoch.value.utf8.count == 8)
            #expect(epoch.value.utf8.allSatisfy { Self.epochAlphabet.contains($0) })
            #expect(Epoch(epoch.value) == epoch, "a random epoch is one a client may send back")
        }
        #expect(registry.existingPosition(of: Self.a) == a3)
        #expect(registry.existingPosition(of: Self.b) == b2)
        #expect(registry.existingPosition(of: Self.c) == nil)
        Self.checkTotals(registry, [Self.a, Self.b, Self.c], at: Self.at(4))
    }

    @Test("a subscription to an unknown channel creates its stream at offset 0; the first publish is offset 1")
    func positionCreatesStream() {
        var registry = StreamRegistry(settings: Self.settings())
        let start = registry.position(of: Self.a, now: Self.at(0))
        #expect(start.offset == 0 && start.epoch.value.utf8.count == 8)
        #expect(registry.position(of: Self.a, now: Self.at(1)) == start)
        #expect(Self.publish(&registry, Self.a, at: Self.at(2)) == Self.position(1, start.epoch))
        Self.checkTotals(registry, [Self.a], at: Self.at(2))
    }

    // MARK: History and recovery

    @Test("the history ring keeps the last N messages, oldest first, the very entries kept")
    func ringKeepsLastN() {
        var registry = StreamRegistry(settings: Self.settings(size: 3))
        var kept: [HistoryEntry] = []
        for offset in 1...5 {
            let position = registry.advance(Self.a, now: Self.at(Int64(offset)))
            let entry = Self.entry(Self.a, position, "message \(offset)")
            registry.keep(entry, on: Self.a)
            kept.append(entry)
            Self.checkTotals(registry, [Self.a], at: Self.at(Int64(offset)))
        }
        let history = registry.history(of: Self.a, after: nil, limit: .max, now: Self.at(5))!
        #expect(history.messages.map(\.offset) == [3, 4, 5])
        #expect(
            history.messages.map { String(buffer: $0.data) } == [#""message 3""#, #""message 4""#, #""message 5""#]
        )
        #expect(history.messages.map(\.rendition.plain.bytes) == kept.suffix(3).map(\.rendition.plain.bytes))
        #expect(registry.historyMessages == 3)
        #expect(registry.historyBytes == kept.suffix(3).reduce(0) { $0 + $1.cost })
        #expect(registry.history(of: Self.a, after: 3, limit: 1, now: Self.at(5))!.messages.map(\.offset) == [4])
        #expect(
            registry.history(of: Self.a, after: 1, limit: .max, now: Self.at(5))!.messages.map(\.offset) == [3, 4, 5]
        )
        #expect(registry.history(of: Self.a, after: 5, limit: .max, now: Self.at(5))!.messages.isEmpty)
        #expect(registry.history(of: Self.b, after: nil, limit: .max, now: Self.at(5)) == nil)
    }

    @Test("recover: recovered (exact entries, or none missed), epoch mismatch, too old before too many, counters")
    func recoverOutcomes() {
        var registry = StreamRegistry(settings: Self.settings(size: 5, recoveryMaxMessages: 3))
        var kept: [UInt64: HistoryEntry] = [:]
        var latest: Epoch?
        for offset in 1...7 {
            let position = registry.advance(Self.a, now: Self.at(Int64(offset)))
            latest = position.epoch
            kept[position.offset] = Self.entry(Self.a, position, "m\(offset)")
            registry.keep(kept[position.offset]!, on: Self.a)
        }
        let epoch = latest!
        let now = Self.at(10)
        let top = Self.position(7, epoch)

        // Nothing missed.
        var recovery = registry.recover(Self.a, since: top, now: now)
        #expect(recovery.position == top && recovery.outcome == .recovered && recovery.missed.isEmpty)
        // Three missed, three allowed: the kept entries themselves, oldest first.
        recovery = registry.recover(Self.a, since: Self.position(4, epoch), now: now)
        #expect(recovery.position == top && recovery.outcome == .recovered)
        #expect(recovery.missed.map(\.offset) == [5, 6, 7])
        #expect(recovery.missed.map(\.rendition.plain.bytes) == [5, 6, 7].map { kept[$0]!.rendition.plain.bytes })
        // History reaches back (oldest kept is 3) but more than three are missed.
        #expect(registry.recover(Self.a, since: Self.position(3, epoch), now: now).outcome == .tooMany)
        #expect(registry.recover(Self.a, since: Self.position(2, epoch), now: now).outcome == .tooMany)
        // Offset 2 is gone: too old, though too many as well.
        recovery = registry.recover(Self.a, since: Self.position(1, epoch), now: now)
        #expect(recovery.position == top && recovery.outcome == .tooOld && recovery.missed.isEmpty)
        #expect(registry.recover(Self.a, since: Self.position(0, epoch), now: now).outcome == .tooOld)
        // Another life of the stream, or a client ahead of it.
        recovery = registry.recover(Self.a, since: Self.position(7, Self.e1), now: now)
        #expect(recovery.position == top && recovery.outcome == .epochMismatch && recovery.missed.isEmpty)
        #expect(registry.recover(Self.a, since: Self.position(8, epoch), now: now).outcome == .epochMismatch)
        // A channel with no stream: created (offset 0, a new epoch), so any epoch is another one.
        recovery = registry.recover(Self.b, since: Self.position(0, Self.e1), now: now)
        #expect(
            recovery.outcome == .epochMismatch && recovery.position.offset == 0 && recovery.position.epoch != Self.e1
        )
        #expect(registry.existingPosition(of: Self.b) == recovery.position)

        #expect(registry.recoveries[RecoveryOutcome.recovered.rawValue] == 2)
        #expect(registry.recoveries[RecoveryOutcome.tooMany.rawValue] == 2)
        #expect(registry.recoveries[RecoveryOutcome.tooOld.rawValue] == 2)
        #expect(registry.recoveries[RecoveryOutcome.epochMismatch.rawValue] == 3)
        #expect(registry.recoveries[RecoveryOutcome.disabled.rawValue] == 0)
        #expect(registry.replayedMessages == 3)
        Self.checkTotals(registry, [Self.a, Self.b], at: now)
    }

    @Test("recover with history off (size 0): disabled, whatever the position, with offsets still assigned")
    func recoverDisabled() {
        var registry = StreamRegistry(settings: Self.settings(size: 0))
        Self.publish(&registry, Self.a, at: Self.at(0))
        let top = Self.publish(&registry, Self.a, at: Self.at(1))
        #expect(top.offset == 2)
        #expect(registry.historyMessages == 0 && registry.streamsWithHistory == 0)
        for since in [top, Self.position(1, top.epoch), Self.position(2, Self.e1)] {
            let recovery = registry.recover(Self.a, since: since, now: Self.at(2))
            #expect(recovery.position == top && recovery.outcome == .disabled && recovery.missed.isEmpty)
        }
        #expect(registry.recoveries[RecoveryOutcome.disabled.rawValue] == 3)
        #expect(registry.recoveries.reduce(0, +) == 3)
        #expect(registry.replayedMessages == 0)
        Self.checkTotals(registry, [Self.a], at: Self.at(2))
    }

    @Test("recovery with the cluster's messages below local history: contiguous recovers, a hole is too old")
    func recoverWithClusterEntries() {
        var registry = StreamRegistry(settings: Self.settings(size: 3))
        var latest: Epoch?
        for offset in 1...6 { latest = Self.publish(&registry, Self.a, at: Self.at(Int64(offset))).epoch }
        let epoch = latest!
        let now = Self.at(10)
        func cluster(_ offsets: [UInt64]) -> [HistoryEntry] {
            offsets.map { Self.entry(Self.a, Self.position($0, epoch), "cluster \($0)") }
        }
        // Local history holds 4, 5, 6.
        var recovery = registry.recover(Self.a, since: Self.position(1, epoch), now: now, cluster: cluster([2, 3]))
        #expect(recovery.outcome == .recovered)
        #expect(recovery.missed.map(\.offset) == [2, 3, 4, 5, 6])
        #expect(recovery.missed.prefix(2).map { String(buffer: $0.data) } == [#""cluster 2""#, #""cluster 3""#])
        #expect(recovery.missed.suffix(3).map { String(buffer: $0.data) } == [#""m""#, #""m""#, #""m""#])
        // The cluster's copies of what is held here, or of what the client has, are not used.
        recovery = registry.recover(
            Self.a,
            since: Self.position(1, epoch),
            now: now,
            cluster: cluster([1, 2, 3, 4, 5, 6])
        )
        #expect(recovery.outcome == .recovered && recovery.missed.map(\.offset) == [2, 3, 4, 5, 6])
        #expect(recovery.missed.map { String(buffer: $0.data) }.filter { $0.hasPrefix("\"cluster") }.count == 2)
        // Not reaching back to since + 1.
        #expect(
            registry.recover(Self.a, since: Self.position(1, epoch), now: now, cluster: cluster([3])).outcome == .tooOld
        )
        #expect(registry.recover(Self.a, since: Self.position(1, epoch), now: now).outcome == .tooOld)
        // A hole in the middle, or just below local history.
        #expect(
            registry.recover(Self.a, since: Self.position(0, epoch), now: now, cluster: cluster([1, 3])).outcome
                == .tooOld
        )
        #expect(
            registry.recover(Self.a, since: Self.position(1, epoch), now: now, cluster: cluster([2])).outcome == .tooOld
        )

        // A stream adopted from the cluster holds no history here: the cluster's messages must cover it all.
        registry.adopt(Self.b, at: Self.position(5, Self.e1), refresh: false, now: now)
        let b = { (offsets: [UInt64]) -> [HistoryEntry] in
            offsets.map { Self.entry(Self.b, Self.position($0, Self.e1)) }
        }
        recovery = registry.recover(Self.b, since: Self.position(2, Self.e1), now: now, cluster: b([3, 4, 5]))
        #expect(recovery.outcome == .recovered && recovery.missed.map(\.offset) == [3, 4, 5])
        #expect(
            registry.recover(Self.b, since: Self.position(2, Self.e1), now: now, cluster: b([3, 5])).outcome == .tooOld
        )
        #expect(
            registry.recover(Self.b, since: Self.position(2, Self.e1), now: now, cluster: b([3, 4])).outcome == .tooOld
        )
        #expect(registry.recover(Self.b, since: Self.position(2, Self.e1), now: now).outcome == .tooOld)
        #expect(registry.replayedMessages == 5 + 5 + 3)
        Self.checkTotals(registry, [Self.a, Self.b], at: now)
    }

    @Test("canRecoverLocally: yes when the answer needs nothing from the cluster, no when history does not reach")
    func canRecoverLocally() {
        var registry = StreamRegistry(settings: Self.settings(size: 3))
        #expect(!registry.canRecoverLocally(Self.a, since: Self.position(0, Self.e1)))
        var latest: Epoch?
        for offset in 1...5 { latest = Self.publish(&registry, Self.a, at: Self.at(Int64(offset))).epoch }
        let epoch = latest!
        // Answered here as a mismatch.
        #expect(registry.canRecoverLocally(Self.a, since: Self.position(5, Self.e1)))
        #expect(registry.canRecoverLocally(Self.a, since: Self.position(6, epoch)))
        // History holds 3, 4, 5.
        #expect(registry.canRecoverLocally(Self.a, since: Self.position(5, epoch)))
        #expect(registry.canRecoverLocally(Self.a, since: Self.position(4, epoch)))
        #expect(registry.canRecoverLocally(Self.a, since: Self.position(2, epoch)))
        #expect(!registry.canRecoverLocally(Self.a, since: Self.position(1, epoch)))
        #expect(!registry.canRecoverLocally(Self.a, since: Self.position(0, epoch)))
        // No history here.
        registry.adopt(Self.b, at: Self.position(5, Self.e1), refresh: false, now: Self.at(6))
        #expect(registry.canRecoverLocally(Self.b, since: Self.position(5, Self.e1)))
        #expect(!registry.canRecoverLocally(Self.b, since: Self.position(4, Self.e1)))
    }

    // MARK: Expiry

    @Test("history goes ttl after the last publish (offset and epoch kept), the stream streamTTL after it")
    func ttlThenStreamTTL() {
        var registry = StreamRegistry(settings: Self.settings(size: 5, ttl: .seconds(10), streamTTL: .seconds(100)))
        let channels = [Self.a]
        Self.publish(&registry, Self.a, at: Self.at(0))
        let second = Self.publish(&registry, Self.a, at: Self.at(1_000))
        #expect(Self.historyOffsets(registry, Self.a, at: Self.at(10_999)) == [1, 2])
        #expect(Self.historyOffsets(registry, Self.a, at: Self.at(11_000)) == [])

        registry.expire(now: Self.at(11_000))
        #expect(registry.existingPosition(of: Self.a) == second)
        #expect(registry.historyMessages == 0 && registry.streamsWithHistory == 0 && registry.historyBytes == 0)
        #expect(registry.totalBytes == ChannelStream.overheadBytes)
        #expect(registry.expiredStreams == 0)
        Self.checkTotals(registry, channels, at: Self.at(11_000))

        // The next publish continues the offset in the same epoch.
        let third = Self.publish(&registry, Self.a, at: Self.at(20_000))
        #expect(third == Self.position(3, second.epoch))
        #expect(Self.historyOffsets(registry, Self.a, at: Self.at(20_000)) == [3])
        Self.checkTotals(registry, channels, at: Self.at(20_000))

        // The stream itself goes 100 s after that publish.
        registry.expire(now: Self.at(119_999))
        #expect(registry.existingPosition(of: Self.a) == third && registry.expiredStreams == 0)
        registry.expire(now: Self.at(120_000))
        #expect(registry.existingPosition(of: Self.a) == nil && registry.expiredStreams == 1)
        #expect(registry.streamCount == 0 && registry.totalBytes == 0)
        Self.checkTotals(registry, channels, at: Self.at(120_000))

        // It comes back as a new life.
        let reborn = Self.publish(&registry, Self.a, at: Self.at(121_000))
        #expect(reborn.offset == 1 && reborn.epoch != second.epoch)
        Self.checkTotals(registry, channels, at: Self.at(121_000))
    }

    @Test("streams expire in last-publish order, a republished one moving to the newest end")
    func expiryOrderAfterRepublish() {
        var registry = StreamRegistry(settings: Self.settings(size: 5, ttl: .seconds(10), streamTTL: .seconds(100)))
        let channels = [Self.a, Self.b, Self.c]
        Self.publish(&registry, Self.a, at: Self.at(0))
        Self.publish(&registry, Self.b, at: Self.at(1_000))
        Self.publish(&registry, Self.c, at: Self.at(2_000))
        Self.publish(&registry, Self.b, at: Self.at(3_000))  // A, C, B
        func held(at now: NIODeadline) -> [[UInt64]?] { channels.map { Self.historyOffsets(registry, $0, at: now) } }

        registry.expire(now: Self.at(9_999))
        #expect(held(at: Self.at(9_999)) == [[1], [1, 2], [1]])
        registry.expire(now: Self.at(10_000))
        #expect(held(at: Self.at(10_000)) == [[], [1, 2], [1]])
        #expect(registry.streamsWithHistory == 2)
        // C (last published at 2 s) goes; B (at 3 s) stays although C was first published after it.
        registry.expire(now: Self.at(12_000))
        #expect(held(at: Self.at(12_000)) == [[], [1, 2], []])
        #expect(registry.streamsWithHistory == 1)
        Self.checkTotals(registry, channels, at: Self.at(12_000))
        registry.expire(now: Self.at(13_000))
        #expect(held(at: Self.at(13_000)) == [[], [], []])
        #expect(registry.streamsWithHistory == 0 && registry.historyMessages == 0 && registry.historyBytes == 0)
        Self.checkTotals(registry, channels, at: Self.at(13_000))

        // The streams go in the same order.
        registry.expire(now: Self.at(102_000))
        #expect(channels.map { registry.existingPosition(of: $0) == nil } == [true, false, true])
        #expect(registry.expiredStreams == 2)
        registry.expire(now: Self.at(103_000))
        #expect(registry.streamCount == 0 && registry.expiredStreams == 3 && registry.totalBytes == 0)
    }

    @Test("expiry never skips a stream holding history: the oldest republished, or republished after its expiry")
    func expiryCursorNeverSkips() {
        var registry = StreamRegistry(settings: Self.settings(size: 5, ttl: .seconds(10), streamTTL: .seconds(100)))
        let channels = [Self.a, Self.b, Self.c, Self.d]
        func held(at now: NIODeadline) -> [[UInt64]?] { channels.map { Self.historyOffsets(registry, $0, at: now) } }

        // The least recently published stream (the first to expire) is republished: A, B → B, A.
        Self.publish(&registry, Self.a, at: Self.at(0))
        Self.publish(&registry, Self.b, at: Self.at(1_000))
        Self.publish(&registry, Self.a, at: Self.at(2_000))
        registry.expire(now: Self.at(11_000))
        #expect(held(at: Self.at(11_000)) == [[1, 2], [], nil, nil])
        registry.expire(now: Self.at(12_000))
        #expect(held(at: Self.at(12_000)) == [[], [], nil, nil])
        Self.checkTotals(registry, channels, at: Self.at(12_000))

        // Every history gone; A republished holds history again, then C, then B (whose history expired too).
        Self.publish(&registry, Self.a, at: Self.at(20_000))
        Self.publish(&registry, Self.c, at: Self.at(21_000))
        Self.publish(&registry, Self.b, at: Self.at(22_000))
        #expect(held(at: Self.at(22_000)) == [[3], [2], [1], nil])
        registry.expire(now: Self.at(30_000))
        #expect(held(at: Self.at(30_000)) == [[], [2], [1], nil])
        // C, the least recently published stream holding history, is republished; then D is published.
        Self.publish(&registry, Self.c, at: Self.at(30_500))
        Self.publish(&registry, Self.d, at: Self.at(31_000))
        registry.expire(now: Self.at(32_000))
        #expect(held(at: Self.at(32_000)) == [[], [], [1, 2], [1]])
        Self.checkTotals(registry, channels, at: Self.at(32_000))
        // A, whose history expired, holds history again, behind C and D.
        Self.publish(&registry, Self.a, at: Self.at(33_000))
        registry.expire(now: Self.at(40_500))
        #expect(held(at: Self.at(40_500)) == [[4], [], [], [1]])
        registry.expire(now: Self.at(41_000))
        #expect(held(at: Self.at(41_000)) == [[4], [], [], []])
        Self.checkTotals(registry, channels, at: Self.at(41_000))
        registry.expire(now: Self.at(43_000))
        #expect(held(at: Self.at(43_000)) == [[], [], [], []])
        #expect(registry.streamsWithHistory == 0 && registry.historyMessages == 0)
        Self.checkTotals(registry, channels, at: Self.at(43_000))
    }

    // MARK: Byte budget

    @Test("over the byte budget, the least recently published stream goes whole and comes back with a new epoch")
    func budgetEvictsLeastRecentlyPublished() {
        // Every entry here costs the same (one-digit offsets, one-character channels, eight-character epochs).
        let cost = Self.entry(Self.a, Self.position(1, Self.e1)).cost
        let stream = ChannelStream.overheadBytes + cost
        var registry = StreamRegistry(settings: Self.settings(size: 5, maxBytes: 2 * stream + cost))
        let channels = [Self.a, Self.b, Self.c]

        let a = Self.publish(&registry, Self.a, at: Self.at(0))
        Self.checkTotals(registry, channels, at: Self.at(0))
        Self.publish(&registry, Self.b, at: Self.at(1))
        Self.publish(&registry, Self.b, at: Self.at(2))
        #expect(registry.totalBytes == 2 * stream + cost && registry.evictedStreams == 0)
        Self.checkTotals(registry, channels, at: Self.at(2))

        // A third stream: A, the least recently published, goes.
        Self.publish(&registry, Self.c, at: Self.at(3))
        #expect(registry.existingPosition(of: Self.a) == nil && registry.evictedStreams == 1)
        #expect(registry.totalBytes == 2 * stream + cost && registry.historyMessages == 3)
        #expect(registry.recover(Self.a, since: a, now: Self.at(3)).outcome == .epochMismatch)
        #expect(registry.existingPosition(of: Self.a)!.offset == 0, "the recovery created the stream anew")
        Self.checkTotals(registry, channels, at: Self.at(3))

        // A published again: a new life (offset 1, new epoch); now B is the least recently published.
        let reborn = Self.publish(&registry, Self.a, at: Self.at(4))
        #expect(reborn.offset == 1 && reborn.epoch != a.epoch)
        #expect(registry.existingPosition(of: Self.b) == nil && registry.evictedStreams == 2)
        #expect(Self.historyOffsets(registry, Self.c, at: Self.at(4)) == [1])
        #expect(Self.historyOffsets(registry, Self.a, at: Self.at(4)) == [1])
        Self.checkTotals(registry, channels, at: Self.at(4))
    }

    @Test("the channel being published is never evicted, even alone over the budget")
    func budgetSparesCurrent() {
        var registry = StreamRegistry(settings: Self.settings(size: 5, maxBytes: 10))
        let channels = [Self.a, Self.b]
        Self.publish(&registry, Self.a, at: Self.at(0))
        let a = Self.publish(&registry, Self.a, at: Self.at(1))
        #expect(registry.existingPosition(of: Self.a) == a && registry.evictedStreams == 0)
        #expect(Self.historyOffsets(registry, Self.a, at: Self.at(1)) == [1, 2])
        #expect(registry.totalBytes > 10)
        Self.checkTotals(registry, channels, at: Self.at(1))

        let b = Self.publish(&registry, Self.b, at: Self.at(2))
        #expect(registry.existingPosition(of: Self.a) == nil && registry.evictedStreams == 1)
        #expect(registry.existingPosition(of: Self.b) == b)
        Self.checkTotals(registry, channels, at: Self.at(2))
        // A subscription's new stream (state only) counts too: it evicts the least recently published, and is itself
        // evicted by the next publish elsewhere.
        let c = registry.position(of: Self.c, now: Self.at(3))
        #expect(c.offset == 0 && registry.streamCount == 1 && registry.existingPosition(of: Self.b) == nil)
        #expect(registry.evictedStreams == 2)
        Self.checkTotals(registry, [Self.a, Self.b, Self.c], at: Self.at(3))
        Self.publish(&registry, Self.b, at: Self.at(4))
        #expect(registry.existingPosition(of: Self.c) == nil && registry.evictedStreams == 3)
        Self.checkTotals(registry, [Self.a, Self.b, Self.c], at: Self.at(4))
    }

    // MARK: Cluster positions

    @Test("record: first sight, next, stale, gap, new epoch")
    func recordArrivals() {
        var registry = StreamRegistry(settings: Self.settings(size: 10))
        let channels = [Self.a]
        #expect(Self.arrive(&registry, Self.a, Self.position(5, Self.e1), at: Self.at(0)) == .next)
        #expect(registry.existingPosition(of: Self.a) == Self.position(5, Self.e1))
        #expect(Self.arrive(&registry, Self.a, Self.position(6, Self.e1), at: Self.at(1)) == .next)
        #expect(Self.historyOffsets(registry, Self.a, at: Self.at(1)) == [5, 6])
        Self.checkTotals(registry, channels, at: Self.at(1))

        // Already delivered: dropped, nothing changes.
        #expect(registry.record(Self.a, at: Self.position(6, Self.e1), now: Self.at(2)) == .stale)
        #expect(registry.record(Self.a, at: Self.position(2, Self.e1), now: Self.at(2)) == .stale)
        #expect(registry.existingPosition(of: Self.a) == Self.position(6, Self.e1))

        #expect(
            Self.arrive(&registry, Self.a, Self.position(9, Self.e1), at: Self.at(3))
                == .gap(last: Self.position(6, Self.e1))
        )
        #expect(registry.existingPosition(of: Self.a) == Self.position(9, Self.e1))
        Self.checkTotals(registry, channels, at: Self.at(3))

        // A new epoch drops the old life's history.
        #expect(
            registry.record(Self.a, at: Self.position(1, Self.e2), now: Self.at(4))
                == .newEpoch(last: Self.position(9, Self.e1))
        )
        #expect(registry.existingPosition(of: Self.a) == Self.position(1, Self.e2))
        #expect(Self.historyOffsets(registry, Self.a, at: Self.at(4)) == [])
        Self.checkTotals(registry, channels, at: Self.at(4))
        registry.keep(Self.entry(Self.a, Self.position(1, Self.e2)), on: Self.a)
        #expect(Self.arrive(&registry, Self.a, Self.position(2, Self.e2), at: Self.at(5)) == .next)
        #expect(Self.historyOffsets(registry, Self.a, at: Self.at(5)) == [1, 2])
        Self.checkTotals(registry, channels, at: Self.at(5))
    }

    @Test("a gap with filling on: the stream waits at its last position, arrivals are held (bounded), one end per fill")
    func gapFillHoldsArrivals() {
        var registry = StreamRegistry(settings: Self.settings(size: 10))
        #expect(registry.record(Self.a, at: Self.position(1, Self.e1), now: Self.at(0), fillingGaps: true) == .next)
        let arrival = registry.record(Self.a, at: Self.position(4, Self.e1), now: Self.at(1), fillingGaps: true)
        guard case .filling(let id, let last) = arrival else {
            Issue.record("expected a fill, got \(arrival)")
            return
        }
        #expect(last == Self.position(1, Self.e1))
        let frame = Frame(opcode: .text, payload: ByteBuffer(string: "m"))
        let held = HeldArrival(
            payload: ByteBuffer(string: "m"),
            opcode: .text,
            native: Rendition(plain: frame, compressed: nil),
            anyCompression: false,
            anyChorusV1: false,
            options: PublishOptions(position: Self.position(4, Self.e1))
        )
        let accepted = registry.hold(held, on: Self.a)
        #expect(accepted)
        // Everything for the channel waits behind the fill, even what would be stale or next; other channels do not.
        let behind = registry.record(Self.a, at: Self.position(5, Self.e1), now: Self.at(1), fillingGaps: true)
        let other = registry.record(Self.b, at: Self.position(1, Self.e1), now: Self.at(1), fillingGaps: true)
        #expect(behind == .held(id: id) && other == .next)
        var heldCount = 1
        while registry.hold(held, on: Self.a) { heldCount += 1 }
        #expect(heldCount == GapFill.maxHeld)
        // The stream did not move: the filled messages come next.
        #expect(registry.existingPosition(of: Self.a) == Self.position(1, Self.e1))
        let wrong = registry.endFill(Self.a, id: id + 1)
        let ended = registry.endFill(Self.a, id: id)
        let again = registry.endFill(Self.a, id: id)
        #expect(wrong == nil && ended?.held.count == GapFill.maxHeld && again == nil)
        let next = registry.record(Self.a, at: Self.position(2, Self.e1), now: Self.at(2), fillingGaps: true)
        #expect(next == .next)
    }

    @Test("after a gap, history holds no hole: a recovery from before the gap needs the cluster's messages")
    func gapLeavesNoHoleInHistory() {
        var registry = StreamRegistry(settings: Self.settings(size: 10))
        for offset in 1...3 {
            #expect(Self.arrive(&registry, Self.a, Self.position(UInt64(offset), Self.e1), at: Self.at(0)) == .next)
        }
        // Offsets 4 and 5 never reached this node.
        #expect(
            Self.arrive(&registry, Self.a, Self.position(6, Self.e1), at: Self.at(1))
                == .gap(last: Self.position(3, Self.e1))
        )
        #expect(Self.historyOffsets(registry, Self.a, at: Self.at(1)) == [6])
        Self.checkTotals(registry, [Self.a], at: Self.at(1))
        #expect(!registry.canRecoverLocally(Self.a, since: Self.position(2, Self.e1)))
        #expect(!registry.canRecoverLocally(Self.a, since: Self.position(4, Self.e1)))
        #expect(registry.canRecoverLocally(Self.a, since: Self.position(5, Self.e1)))

        // Not 3 then 6 as if nothing were missing.
        var recovery = registry.recover(Self.a, since: Self.position(2, Self.e1), now: Self.at(2))
        #expect(recovery.outcome == .tooOld && recovery.missed.isEmpty)
        let cluster = [3, 4, 5].map { Self.entry(Self.a, Self.position($0, Self.e1), "cluster \($0)") }
        recovery = registry.recover(Self.a, since: Self.position(2, Self.e1), now: Self.at(2), cluster: cluster)
        #expect(recovery.outcome == .recovered && recovery.missed.map(\.offset) == [3, 4, 5, 6])
        recovery = registry.recover(Self.a, since: Self.position(5, Self.e1), now: Self.at(2))
        #expect(recovery.outcome == .recovered && recovery.missed.map(\.offset) == [6])
    }

    @Test("record on a stream only subscribed to here (offset 0, its own epoch) is the next, not a new epoch")
    func recordAfterPosition() {
        var registry = StreamRegistry(settings: Self.settings())
        let start = registry.position(of: Self.a, now: Self.at(0))
        #expect(start.offset == 0 && start.epoch != Self.e1)
        #expect(registry.record(Self.a, at: Self.position(7, Self.e1), now: Self.at(1)) == .next)
        #expect(registry.existingPosition(of: Self.a) == Self.position(7, Self.e1))
        #expect(registry.record(Self.a, at: Self.position(8, Self.e1), now: Self.at(2)) == .next)
    }

    @Test("a local publish on a cluster stream forks the epoch; the cluster's next message is then a new epoch")
    func advanceOnClusterStreamForks() {
        var registry = StreamRegistry(settings: Self.settings())
        let channels = [Self.a]
        #expect(Self.arrive(&registry, Self.a, Self.position(3, Self.e1), at: Self.at(0)) == .next)
        let forked = registry.advance(Self.a, now: Self.at(1))
        #expect(forked.offset == 4 && forked.epoch != Self.e1 && forked.epoch.value.utf8.count == 8)
        #expect(Self.historyOffsets(registry, Self.a, at: Self.at(1)) == [], "the cluster's history is not this life's")
        registry.keep(Self.entry(Self.a, forked), on: Self.a)
        // Further local publishes stay in the fork.
        #expect(Self.publish(&registry, Self.a, at: Self.at(2)) == Self.position(5, forked.epoch))
        Self.checkTotals(registry, channels, at: Self.at(2))

        #expect(
            registry.record(Self.a, at: Self.position(4, Self.e1), now: Self.at(3))
                == .newEpoch(last: Self.position(5, forked.epoch))
        )
        #expect(registry.existingPosition(of: Self.a) == Self.position(4, Self.e1))
        #expect(Self.historyOffsets(registry, Self.a, at: Self.at(3)) == [])
        Self.checkTotals(registry, channels, at: Self.at(3))
    }

    @Test("adopt: takes the cluster's position for a new stream; an existing one only with refresh, and only forward")
    func adopt() {
        var registry = StreamRegistry(settings: Self.settings())
        let channels = [Self.a, Self.b, Self.c]

        // No stream: taken, as the cluster's.
        registry.adopt(Self.a, at: Self.position(5, Self.e1), refresh: false, now: Self.at(0))
        #expect(registry.existingPosition(of: Self.a) == Self.position(5, Self.e1))
        #expect(Self.historyOffsets(registry, Self.a, at: Self.at(0)) == [])
        #expect(registry.record(Self.a, at: Self.position(6, Self.e1), now: Self.at(1)) == .next)

        // A local stream with history: kept without refresh.
        for offset in 1...3 { Self.publish(&registry, Self.b, at: Self.at(Int64(offset))) }
        let local = registry.existingPosition(of: Self.b)!
        registry.adopt(Self.b, at: Self.position(10, Self.e1), refresh: false, now: Self.at(4))
        #expect(registry.existingPosition(of: Self.b) == local)
        #expect(Self.historyOffsets(registry, Self.b, at: Self.at(4)) == [1, 2, 3])
        Self.checkTotals(registry, channels, at: Self.at(4))
        // With refresh: the cluster's position, and the history (with a hole now) dropped.
        registry.adopt(Self.b, at: Self.position(10, Self.e1), refresh: true, now: Self.at(5))
        #expect(registry.existingPosition(of: Self.b) == Self.position(10, Self.e1))
        #expect(Self.historyOffsets(registry, Self.b, at: Self.at(5)) == [])
        Self.checkTotals(registry, channels, at: Self.at(5))
        // It is the cluster's stream now: a local publish forks.
        let forked = registry.advance(Self.b, now: Self.at(6))
        #expect(forked.offset == 11 && forked.epoch != Self.e1)

        // Refresh to the same epoch: only forward.
        #expect(Self.arrive(&registry, Self.c, Self.position(5, Self.e1), at: Self.at(7)) == .next)
        registry.adopt(Self.c, at: Self.position(4, Self.e1), refresh: true, now: Self.at(8))
        registry.adopt(Self.c, at: Self.position(5, Self.e1), refresh: true, now: Self.at(8))
        #expect(registry.existingPosition(of: Self.c) == Self.position(5, Self.e1))
        #expect(Self.historyOffsets(registry, Self.c, at: Self.at(8)) == [5])
        registry.adopt(Self.c, at: Self.position(8, Self.e1), refresh: true, now: Self.at(9))
        #expect(registry.existingPosition(of: Self.c) == Self.position(8, Self.e1))
        #expect(Self.historyOffsets(registry, Self.c, at: Self.at(9)) == [])
        // Another epoch, even at a lower offset.
        registry.adopt(Self.c, at: Self.position(2, Self.e2), refresh: true, now: Self.at(10))
        #expect(registry.existingPosition(of: Self.c) == Self.position(2, Self.e2))
        #expect(registry.record(Self.c, at: Self.position(3, Self.e2), now: Self.at(11)) == .next)
        Self.checkTotals(registry, channels, at: Self.at(11))
    }

    // MARK: Against a reference model

    /// What the registry should hold, kept the plain way: a dictionary of streams and a list by last publish.
    struct Model {
        struct Stream {
            var epoch: Epoch
            var top: UInt64 = 0
            var history: [(offset: UInt64, cost: Int)] = []
            var lastPublish: NIODeadline
        }

        let settings: HistorySettings
        var streams: [ChannelName: Stream] = [:]
        /// Least recently published first.
        var order: [ChannelName] = []
        var evicted = 0
        var expired = 0
        /// Histories dropped after `ttl` (not counted by the registry; for the test's coverage).
        var historiesExpired = 0
        var recoveries = [Int](repeating: 0, count: RecoveryOutcome.allCases.count)
        var replayed = 0

        var totalBytes: Int { self.streams.count * ChannelStream.overheadBytes + self.historyBytes }
        var historyBytes: Int { self.streams.values.reduce(0) { $0 + $1.history.reduce(0) { $0 + $1.cost } } }

        mutating func expire(now: NIODeadline) {
            for name in self.order
            where self.streams[name]!.lastPublish + self.settings.ttl <= now && !self.streams[name]!.history.isEmpty {
                self.streams[name]!.history = []
                self.historiesExpired += 1
            }
            for name in self.order where self.streams[name]!.lastPublish + self.settings.streamTTL <= now {
                self.remove(name)
                self.expired += 1
            }
        }

        mutating func remove(_ name: ChannelName) {
            self.streams[name] = nil
            self.order.removeAll { $0 == name }
        }

        /// Creates the stream if needed; returns whether it existed.
        mutating func ensure(_ name: ChannelName, epoch: Epoch, now: NIODeadline) -> Bool {
            guard self.streams[name] == nil else { return true }
            self.streams[name] = Stream(epoch: epoch, lastPublish: now)
            self.order.append(name)
            self.evictOverBudget(sparing: name)
            return false
        }

        mutating func evictOverBudget(sparing name: ChannelName) {
            while self.totalBytes > self.settings.maxBytes, let oldest = self.order.first, oldest != name {
                self.remove(oldest)
                self.evicted += 1
            }
        }

        mutating func published(_ name: ChannelName, cost: Int, now: NIODeadline) {
            self.streams[name]!.top += 1
            self.streams[name]!.lastPublish = now
            self.order.removeAll { $0 == name }
            self.order.append(name)
            guard self.settings.size > 0 else { return }
            self.streams[name]!.history.append((self.streams[name]!.top, cost))
            if self.streams[name]!.history.count > self.settings.size { self.streams[name]!.history.removeFirst() }
            self.evictOverBudget(sparing: name)
        }

        mutating func recover(_ name: ChannelName, since: StreamPosition) -> (RecoveryOutcome, [UInt64]) {
            let stream = self.streams[name]!
            let result: (RecoveryOutcome, [UInt64])
            if self.settings.size == 0 {
                result = (.disabled, [])
            } else if since.epoch != stream.epoch || since.offset > stream.top {
                result = (.epochMismatch, [])
            } else if since.offset == stream.top {
                result = (.recovered, [])
            } else if (stream.history.first?.offset ?? stream.top + 1) > since.offset + 1 {
                result = (.tooOld, [])
            } else if stream.top - since.offset > UInt64(self.settings.recoveryMaxMessages) {
                result = (.tooMany, [])
            } else {
                result = (.recovered, Array((since.offset + 1)...stream.top))
            }
            self.recoveries[result.0.rawValue] += 1
            self.replayed += result.1.count
            return result
        }
    }

    static let modelSettings: [HistorySettings] = [
        Self.settings(size: 3, ttl: .seconds(5), streamTTL: .seconds(12), maxBytes: 1_000, recoveryMaxMessages: 2),
        Self.settings(size: 1, ttl: .seconds(3), streamTTL: .seconds(4), maxBytes: 600, recoveryMaxMessages: 0),
        Self.settings(size: 6, ttl: .seconds(8), streamTTL: .seconds(30), maxBytes: 2_500, recoveryMaxMessages: 4),
        Self.settings(size: 0, ttl: .seconds(5), streamTTL: .seconds(10), maxBytes: 1_000, recoveryMaxMessages: 2),
    ]

    @Test("random publishes, recoveries, expiries and time against a reference model", arguments: [1, 2, 3, 4, 5, 6])
    func againstModel(seed: UInt64) throws {
        let settings = Self.modelSettings[Int(seed) % Self.modelSettings.count]
        var rng = SplitMix64(seed: seed)
        var registry = StreamRegistry(settings: settings)
        var model = Model(settings: settings)
        let channels = [Self.a, Self.b, Self.c, Self.d]
        var epochsSeen: [ChannelName: Set<Epoch>] = [:]
        var milliseconds: Int64 = 0

        for step in 0..<2_000 {
            let context = "seed \(seed) step \(step)"
            let longPause = rng.next(upperBound: UInt64(10)) == 0
            milliseconds += Int64.random(in: 0...(longPause ? 15_000 : 1_500), using: &rng)
            let now = Self.at(milliseconds)
            let channel = channels[Int(rng.next(upperBound: UInt64(channels.count)))]
            switch rng.next(upperBound: UInt64(10)) {
            case 0..<5:
                model.expire(now: now)
                let known = model.streams[channel]
                let position = registry.advance(channel, now: now)
                if let known {
                    try #require(position == Self.position(known.top + 1, known.epoch), "\(context): advance")
                } else {
                    try #require(position.offset == 1, "\(context): a new stream starts at 1")
                    try #require(!epochsSeen[channel, default: []].contains(position.epoch), "\(context): a new epoch")
                    epochsSeen[channel, default: []].insert(position.epoch)
                    _ = model.ensure(channel, epoch: position.epoch, now: now)
                }
                let entry = Self.entry(
                    channel,
                    position,
                    String(repeating: "x", count: Int(rng.next(upperBound: UInt64(40))))
                )
                registry.keep(entry, on: channel)
                model.published(channel, cost: entry.cost, now: now)
            case 5..<8:
                model.expire(now: now)
                let since: StreamPosition
                if let known = model.streams[channel], rng.next(upperBound: UInt64(5)) != 0 {
                    // Mostly at or a little behind the top (within reach of history, or just out of it).
                    let back = rng.next(upperBound: UInt64(settings.size + 3))
                    let offset =
                        rng.next(upperBound: UInt64(8)) == 0
                        ? known.top + 1 + rng.next(upperBound: UInt64(2)) : known.top - min(back, known.top)
                    since = Self.position(offset, known.epoch)
                } else {
                    since = Self.position(
                        rng.next(upperBound: UInt64(5)),
                        rng.next(upperBound: UInt64(2)) == 0 ? Self.e1 : Self.e2
                    )
                }
                let recovery = registry.recover(channel, since: since, now: now)
                if model.streams[channel] == nil {
                    try #require(recovery.position.offset == 0, "\(context): a recovery creates the stream")
                    try #require(!epochsSeen[channel, default: []].contains(recovery.position.epoch), "\(context)")
                    epochsSeen[channel, default: []].insert(recovery.position.epoch)
                    _ = model.ensure(channel, epoch: recovery.position.epoch, now: now)
                }
                let expected = model.recover(channel, since: since)
                let stream = model.streams[channel]!
                try #require(recovery.position == Self.position(stream.top, stream.epoch), "\(context): position")
                try #require(recovery.outcome == expected.0, "\(context): outcome for since \(since)")
                try #require(recovery.missed.map(\.offset) == expected.1, "\(context): missed")
            default:
                registry.expire(now: now)
                model.expire(now: now)
            }

            // The whole state, as the registry answers it.
            try #require(registry.streamCount == model.streams.count, "\(context): streams")
            try #require(registry.totalBytes == model.totalBytes, "\(context): totalBytes")
            try #require(registry.historyBytes == model.historyBytes, "\(context): historyBytes")
            let messages = model.streams.values.reduce(0) { $0 + $1.history.count }
            try #require(registry.historyMessages == messages, "\(context): historyMessages")
            let withHistory = model.streams.values.filter { !$0.history.isEmpty }.count
            try #require(registry.streamsWithHistory == withHistory, "\(context): streamsWithHistory")
            try #require(registry.evictedStreams == model.evicted, "\(context): evicted")
            try #require(registry.expiredStreams == model.expired, "\(context): expired")
            try #require(registry.recoveries == model.recoveries, "\(context): recoveries")
            try #require(registry.replayedMessages == model.replayed, "\(context): replayed")
            for name in channels {
                let stream = model.streams[name]
                try #require(
                    registry.existingPosition(of: name) == stream.map { Self.position($0.top, $0.epoch) },
                    "\(context): position of \(name)"
                )
                try #require(
                    Self.historyOffsets(registry, name, at: now) == stream.map { $0.history.map(\.offset) },
                    "\(context): history of \(name)"
                )
            }
        }
        // The run went through every path the model covers.
        #expect(model.expired > 0 && model.historiesExpired > 0 || !settings.isOn, "seed \(seed)")
        if settings.isOn {
            #expect(model.evicted > 0, "seed \(seed)")
            for outcome in [RecoveryOutcome.recovered, .epochMismatch, .tooOld, .tooMany] {
                #expect(model.recoveries[outcome.rawValue] > 0, "seed \(seed): \(outcome.label)")
            }
        } else {
            #expect(model.expired > 0 && model.recoveries[RecoveryOutcome.disabled.rawValue] > 0, "seed \(seed)")
        }
    }
}
