import ChorusTestSupport
import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusCore

/// `ConnectionEngine.received`: exact actions (exact frame bytes) for exact client bytes, read as a transport reads
/// them, without sockets.
@Suite("Connection engine: exact actions for exact client bytes")
struct ConnectionEngineReadTests {
    typealias Action = RecordingConnection.Action

    // MARK: Frames split across reads

    @Test("a subscribe split at every byte, or read a byte at a time, subscribes once with no action")
    func subscribeSplitAtEveryByte() {
        let frame = subscribe("news")
        for pieces in splits(of: frame) {
            var peer = Peer()
            for piece in pieces { peer.read(piece) }
            #expect(peer.actions == [], "pieces \(pieces.map(\.count))")
            #expect(peer.subscribers("news") == 1 && peer.shard.subscriptions == 1, "pieces \(pieces.map(\.count))")
            #expect(peer.decoder.isIdle && peer.decoder.bufferedCapacity == 0)
            #expect(peer.connection.machine.isOpen)
        }
    }

    @Test("a ping split at every byte, or read a byte at a time, gets exactly one pong echoing its payload")
    func pingSplitAtEveryByte() {
        let frame = ping("hello")
        for pieces in splits(of: frame) {
            var peer = Peer()
            for piece in pieces { peer.read(piece) }
            #expect(peer.actions == [.writePong(pongFrame("hello"))], "pieces \(pieces.map(\.count))")
            #expect(peer.decoder.isIdle && peer.decoder.bufferedCapacity == 0)
        }
    }

    @Test("a subscribe in two fragments with a ping between them, split at every byte: one pong, one subscription")
    func fragmentedSubscribeAroundPing() {
        let bytes = text(#"{"subscribe":"#, fin: false) + ping("p") + continuation(#""news"}"#)
        for pieces in splits(of: bytes) {
            var peer = Peer()
            for piece in pieces { peer.read(piece) }
            #expect(peer.actions == [.writePong(pongFrame("p"))], "pieces \(pieces.map(\.count))")
            #expect(peer.subscribers("news") == 1, "pieces \(pieces.map(\.count))")
        }
    }

    // MARK: Close handshake from the peer

    static let peerCloses: [([UInt8], [UInt8], CloseReason)] = [
        ([], [0x88, 0x00], .normal),
        ([0x03, 0xE8] + Array("bye".utf8), [0x88, 0x02, 0x03, 0xE8], .normal),
        ([0x03, 0xE9] + Array("gone".utf8), [0x88, 0x02, 0x03, 0xE9], .goingAway),
        ([0x0F, 0xA0] + Array("app".utf8), [0x88, 0x02, 0x0F, 0xA0], .normal),
    ]

    @Test(
        "a peer's close is echoed with its code alone, then the socket closes; nothing after it is read",
        arguments: Self.peerCloses
    )
    func peerCloseEchoed(payload: [UInt8], echo: [UInt8], reason: CloseReason) {
        var peer = Peer()
        peer.read(masked(0x8, payload) + ping("late") + subscribe("news"))
        #expect(peer.actions == [.writeThenCloseSocket(echo)])
        #expect(peer.connection.closeReason == reason && peer.connection.machine.state == .closingByPeer)
        #expect(peer.shard.block(peer.id)?.isClosing == true && peer.subscribers("news") == 0)
    }

    static let brokenPeerCloses: [([UInt8], UInt16, String, CloseReason)] = [
        ([0x03], 1002, "close frame payload of 1 byte", .protocolError),
        ([0x03, 0xED], 1002, "invalid close code 1005", .protocolError),
        ([0x03, 0xE8, 0xFF], 1007, "close reason is not valid UTF-8", .invalidUTF8),
        ([0x03, 0xE8, 0xE2, 0x82], 1007, "close reason is not valid UTF-8", .invalidUTF8),
    ]

    @Test(
        "a broken close frame from the peer is answered with a protocol close, without waiting",
        arguments: Self.brokenPeerCloses
    )
    func brokenPeerClose(payload: [UInt8], code: UInt16, message: String, reason: CloseReason) {
        var peer = Peer()
        peer.read(masked(0x8, payload) + ping("late"))
        #expect(peer.actions == [.writeThenCloseSocket(closeFrame(code, message))])
        #expect(peer.connection.closeReason == reason && peer.connection.machine.state == .closingByUs)
        #expect(peer.decoder.bufferedCapacity == 0)
    }

    // MARK: Close handshake from the server

    @Test("a close we start writes its frame and waits; data meanwhile is ignored; the peer's answer closes the socket")
    func serverClose() {
        var peer = Peer()
        peer.close(code: .goingAway, reason: "shutdown", because: .shutdown)
        let started: [Action] = [.write(closeFrame(1001, "shutdown"))]
        #expect(peer.actions == started)
        #expect(peer.connection.machine.state == .closingByUs)
        #expect(peer.shard.deadlines.pendingCloseHandshakes == 1)

        peer.read(subscribe("news") + ping("x") + pong("y") + binary([1, 2]))
        #expect(peer.actions == started)
        #expect(peer.subscribers("news") == 0)

        // A second close from our side sends nothing.
        peer.close(code: .policyViolation, reason: "again", because: .policyViolation)
        #expect(peer.actions == started)

        peer.read(peerClose(1000) + ping("z"))
        #expect(peer.actions == started + [.closeSocket])
        #expect(peer.connection.machine.state == .closed && peer.connection.closeReason == .shutdown)
        #expect(peer.connection.isReleased)
    }

    @Test("an unanswered close we started closes the socket at the first tick past the close timeout, not before")
    func closeTimeout() {
        let peer = Peer { $0.closeTimeout = .seconds(5) }
        let start = NIODeadline.now()
        peer.close(code: .goingAway, reason: "shutdown", because: .shutdown)
        let started: [Action] = [.write(closeFrame(1001, "shutdown"))]
        peer.shard.runDueDeadlines(now: start + .milliseconds(4_900))
        #expect(peer.actions == started)
        #expect(peer.shard.deadlines.pendingCloseHandshakes == 1)
        peer.shard.runDueDeadlines(now: .now() + .seconds(5))
        #expect(peer.actions == started + [.closeSocket])
        #expect(peer.connection.closeReason == .shutdown && peer.shard.deadlines.pendingCloseHandshakes == 0)
    }

    @Test("a close answered in time leaves its deadline to pass without effect")
    func closeAnsweredInTime() {
        var peer = Peer { $0.closeTimeout = .seconds(5) }
        peer.close(code: .goingAway, reason: "shutdown", because: .shutdown)
        peer.read(peerClose(1000))
        let answered: [Action] = [.write(closeFrame(1001, "shutdown")), .closeSocket]
        #expect(peer.actions == answered)
        peer.shard.runDueDeadlines(now: .now() + .seconds(5))
        #expect(peer.actions == answered)
        #expect(peer.shard.deadlines.pendingCloseHandshakes == 0)
    }

    @Test("after our close, a broken frame from the peer closes the socket with no second close frame")
    func brokenFrameAfterServerClose() {
        var peer = Peer()
        peer.close(code: .goingAway, reason: "shutdown", because: .shutdown)
        peer.read(ClientFrame(opcode: 0x1, payload: [0x41], mask: nil).bytes)
        #expect(peer.actions == [.write(closeFrame(1001, "shutdown")), .closeSocket])
        #expect(peer.connection.closeReason == .shutdown)
    }

    // MARK: Ping and pong

    @Test("a pong is accepted with no action; the connection stays open and answers the next ping")
    func pongAccepted() {
        var peer = Peer()
        peer.read(pong("unsolicited"))
        #expect(peer.actions == [])
        #expect(peer.connection.machine.isOpen && peer.sink.closes == [])
        peer.read(ping(""))
        #expect(peer.actions == [.writePong([0x8A, 0x00])])
    }

    @Test("pings past maxControlFramesPerSecond close with 1008 \"too many control frames\"; later frames do nothing")
    func pingFlood() {
        let peer = inOneSecond {
            var peer = Peer { $0.maxControlFramesPerSecond = 2 }
            peer.read(ping("a") + ping("b") + ping("c") + ping("d") + subscribe("news"))
            return peer
        }
        #expect(
            peer.actions == [
                .writePong(pongFrame("a")), .writePong(pongFrame("b")),
                .write(closeFrame(1008, "too many control frames")),
            ]
        )
        #expect(
            peer.sink.closes == [
                .init(code: .policyViolation, reason: "too many control frames", cause: .controlFrameFlood)
            ]
        )
        #expect(peer.connection.closeReason == .controlFrameFlood && peer.subscribers("news") == 0)
    }

    @Test("pongs count toward the control-frame limit: the ping after two pongs closes with 1008, unanswered")
    func pongsCountTowardLimit() {
        let peer = inOneSecond {
            var peer = Peer { $0.maxControlFramesPerSecond = 2 }
            peer.read(pong("") + pong("") + ping("p"))
            return peer
        }
        #expect(peer.actions == [.write(closeFrame(1008, "too many control frames"))])
        #expect(peer.connection.closeReason == .controlFrameFlood)
    }

    // MARK: Liveness and token expiry

    @Test("a silent connection is pinged on two ticks and closed with 1001 \"idle timeout\" on the third")
    func idleTimeout() {
        var peer = Peer()
        peer.shard.livenessTick()
        peer.shard.livenessTick()
        #expect(peer.sink.written == [[0x89, 0x00], [0x89, 0x00]] && peer.sink.flushes == 2)
        #expect(peer.actions == [] && peer.sink.closes == [])

        peer.shard.livenessTick()
        let closed: [Action] = [.write(closeFrame(1001, "idle timeout"))]
        #expect(peer.sink.closes == [.init(code: .goingAway, reason: "idle timeout", cause: .idleTimeout)])
        #expect(peer.actions == closed && peer.connection.closeReason == .idleTimeout)
        #expect(peer.sink.written.count == 2)

        // Closing: neither pinged nor closed again.
        peer.shard.livenessTick()
        #expect(peer.sink.written.count == 2 && peer.sink.closes.count == 1 && peer.actions == closed)

        peer.read(peerClose(1000))
        #expect(peer.actions == closed + [.closeSocket])
    }

    @Test("any bytes read, even part of a frame, restart the idle count")
    func readKeepsAlive() {
        var peer = Peer()
        let frame = ping("a")
        peer.shard.livenessTick()
        peer.shard.livenessTick()
        peer.read([frame[0]])  // heard in tick 2
        peer.shard.livenessTick()
        peer.shard.livenessTick()
        #expect(peer.sink.closes == [] && peer.sink.written.count == 4 && peer.actions == [])

        peer.read(Array(frame[1...]))  // heard in tick 4
        #expect(peer.actions == [.writePong(pongFrame("a"))])
        peer.shard.livenessTick()
        peer.shard.livenessTick()
        #expect(peer.sink.closes == [] && peer.sink.written.count == 6)
        peer.shard.livenessTick()
        #expect(peer.sink.closes == [.init(code: .goingAway, reason: "idle timeout", cause: .idleTimeout)])
        #expect(
            peer.actions == [.writePong(pongFrame("a")), .write(closeFrame(1001, "idle timeout"))]
        )
    }

    @Test("an expired token closes with 1008 \"token expired\" from its whole second on, once")
    func tokenExpiry() {
        var peer = Peer()
        peer.shard.setTokenExpiry(peer.id, .uptimeNanoseconds(100_500_000_000))  // rounded up to second 101
        peer.shard.expireTokens(now: .uptimeNanoseconds(100_999_999_999))
        #expect(peer.actions == [] && peer.sink.closes == [])

        peer.shard.expireTokens(now: .uptimeNanoseconds(101_000_000_000))
        let closed: [Action] = [.write(closeFrame(1008, "token expired"))]
        #expect(peer.sink.closes == [.init(code: .policyViolation, reason: "token expired", cause: .tokenExpired)])
        #expect(peer.actions == closed && peer.connection.closeReason == .tokenExpired)

        peer.shard.expireTokens(now: .uptimeNanoseconds(200_000_000_000))
        peer.read(subscribe("news") + peerClose(1000))
        #expect(peer.sink.closes.count == 1 && peer.actions == closed + [.closeSocket])
        #expect(peer.subscribers("news") == 0)
    }

    @Test("a connection the peer is closing is neither expired nor pinged nor idled out")
    func peerClosingSkipsShardCloses() {
        var peer = Peer()
        peer.shard.setTokenExpiry(peer.id, .uptimeNanoseconds(5_000_000_000))
        peer.read(peerClose(1000))
        peer.shard.expireTokens(now: .uptimeNanoseconds(10_000_000_000))
        for _ in 0..<4 { peer.shard.livenessTick() }
        #expect(peer.actions == [.writeThenCloseSocket([0x88, 0x02, 0x03, 0xE8])])
        #expect(peer.sink.closes == [] && peer.sink.written == [])
    }

    // MARK: Oversize messages

    @Test("a message of exactly maxMessageBytes, whole or in fragments, is accepted")
    func messageAtLimit() {
        var whole = Peer { $0.maxMessageBytes = 20 }
        whole.read(subscribe("news"))  // 20 bytes
        var fragmented = Peer { $0.maxMessageBytes = 20 }
        fragmented.read(text(#"{"subscribe":"#, fin: false) + continuation(#""news"}"#))
        #expect(whole.actions == [] && whole.subscribers("news") == 1)
        #expect(fragmented.actions == [] && fragmented.subscribers("news") == 1)
    }

    @Test("a frame over maxMessageBytes is refused at its header with 1009; nothing after it is read")
    func oversizeFrame() {
        let frame = subscribe("news1")  // 21 bytes
        let refused: [Action] = [.writeThenCloseSocket(closeFrame(1009, "message longer than 20 bytes"))]

        var headerOnly = Peer { $0.maxMessageBytes = 20 }
        headerOnly.read(Array(frame[..<6]))
        #expect(headerOnly.actions == refused && headerOnly.connection.closeReason == .tooLarge)
        #expect(headerOnly.decoder.bufferedCapacity == 0)

        var whole = Peer { $0.maxMessageBytes = 20 }
        whole.read(frame + ping("p"))
        #expect(whole.actions == refused && whole.subscribers("news1") == 0)
    }

    @Test("fragments adding up past maxMessageBytes are refused with 1009 at the fragment that passes it")
    func oversizeAcrossFragments() {
        var peer = Peer { $0.maxMessageBytes = 20 }
        peer.read(text(#"{"subscribe":"#, fin: false))
        #expect(peer.actions == [])
        peer.read(continuation(#""news1"}"#) + ping("p"))
        #expect(peer.actions == [.writeThenCloseSocket(closeFrame(1009, "message longer than 20 bytes"))])
        #expect(peer.connection.closeReason == .tooLarge && peer.decoder.bufferedCapacity == 0)
    }

    // MARK: UTF-8 across fragments

    @Test("a 3-byte sequence started at the end of one fragment and broken in the next closes with 1007")
    func invalidUTF8AcrossFragments() {
        let bytes = masked(0x1, [0xE2], fin: false) + masked(0x0, [0x28, 0xA1]) + ping("p")
        for pieces in splits(of: bytes) {
            var peer = Peer()
            for piece in pieces { peer.read(piece) }
            #expect(
                peer.actions == [.writeThenCloseSocket(closeFrame(1007, "text message is not valid UTF-8"))],
                "pieces \(pieces.map(\.count))"
            )
            #expect(peer.connection.closeReason == .invalidUTF8)
        }
    }

    @Test("a text message ending inside a UTF-8 sequence closes with 1007")
    func truncatedUTF8() {
        var peer = Peer()
        peer.read(masked(0x1, [0x68, 0xE2], fin: false) + masked(0x0, [0x82]))
        #expect(peer.actions == [.writeThenCloseSocket(closeFrame(1007, "text message ends inside a UTF-8 sequence"))])
    }

    @Test("a character split across fragments and across reads is accepted (echoed whole)")
    func validUTF8AcrossFragments() {
        // "h€": € is E2 82 AC, cut after its first byte.
        let bytes = masked(0x1, [0x68, 0xE2], fin: false) + masked(0x0, [0x82, 0xAC])
        for pieces in splits(of: bytes) {
            var peer = Peer(wireProtocol: .echo)
            for piece in pieces { peer.read(piece) }
            #expect(peer.actions == [], "pieces \(pieces.map(\.count))")
            #expect(peer.sink.written == [[0x81, 0x04, 0x68, 0xE2, 0x82, 0xAC]], "pieces \(pieces.map(\.count))")
        }
    }

    // MARK: Subscription limit and permissions

    @Test("a subscribe past maxSubscriptions closes with 1008 \"too many subscriptions\"; a repeat is not counted")
    func subscriptionLimit() {
        var peer = Peer { $0.maxSubscriptions = 2 }
        peer.read(subscribe("a") + subscribe("b") + subscribe("a"))
        #expect(peer.actions == [] && peer.shard.subscriptions == 2)
        peer.read(subscribe("c") + subscribe("d"))
        #expect(peer.actions == [.write(closeFrame(1008, "too many subscriptions"))])
        #expect(peer.connection.closeReason == .policyViolation)
        #expect(peer.shard.subscriptions == 2 && peer.subscribers("c") == 0 && peer.subscribers("d") == 0)
    }

    @Test("with a grant, allowed channels subscribe and another closes with 1008 \"not allowed to subscribe…\"")
    func subscribePermission() {
        var peer = Peer()
        peer.sink.connection.grant = ChannelGrant(
            subscribe: [ChannelPattern("news")!, ChannelPattern("user.42.*")!],
            publish: []
        )
        peer.read(subscribe("news") + subscribe("user.42.inbox"))
        #expect(peer.actions == [] && peer.subscribers("news") == 1 && peer.subscribers("user.42.inbox") == 1)
        peer.read(subscribe("user.43.inbox") + subscribe("sport"))
        #expect(
            peer.actions == [.write(closeFrame(1008, "not allowed to subscribe to this channel"))]
        )
        #expect(peer.connection.closeReason == .policyViolation)
        #expect(peer.subscribers("user.43.inbox") == 0 && peer.subscribers("sport") == 0)
    }

    @Test("a client publish needs client publish on and a grant for the channel, else 1008")
    func publishPermission() {
        let grant = ChannelGrant(subscribe: [.any], publish: [ChannelPattern("news")!])
        var allowed = Peer { $0.clientPublish = true }
        allowed.sink.connection.grant = grant
        allowed.read(subscribe("news") + publish("news", "hi"))
        allowed.loop.run()
        #expect(allowed.actions == [] && allowed.sink.written == [[0x81, 0x02, 0x68, 0x69]])
        allowed.read(publish("sport", "hi"))
        #expect(
            allowed.actions == [.write(closeFrame(1008, "not allowed to publish to this channel"))]
        )

        var disabled = Peer()
        disabled.read(publish("news", "hi"))
        #expect(disabled.actions == [.write(closeFrame(1008, "client publish is disabled"))])
    }

    // MARK: Release during an event

    @Test("a connection released while handling an event stops the read: later frames in the input do nothing")
    func releasedDuringEvent() {
        var peer = Peer()
        peer.sink.connection.releaseAfterActions = 1  // the first pong's write finds the socket gone
        peer.read(ping("a") + ping("b") + subscribe("news"))
        #expect(peer.actions == [.writePong(pongFrame("a"))])
        #expect(peer.subscribers("news") == 0 && peer.decoder.bufferedCapacity == 0)
    }

    @Test("the peer's answer to our close releases the connection mid-message: the decoder's buffers go back")
    func releasedMidMessage() {
        var peer = Peer()
        peer.close(code: .goingAway, reason: "shutdown", because: .shutdown)
        peer.read(text(#"{"subscribe":"#, fin: false))
        #expect(peer.decoder.bufferedCapacity > 0)
        let free = peer.shard.pool.freeBuffers
        peer.read(peerClose(1000) + continuation(#""news"}"#))
        #expect(peer.actions == [.write(closeFrame(1001, "shutdown")), .closeSocket])
        #expect(peer.decoder.bufferedCapacity == 0 && peer.shard.pool.freeBuffers > free)
        #expect(peer.subscribers("news") == 0)
    }
}

// MARK: - A connection read as a transport reads it

/// One connection on its own hub: bytes go to `ConnectionEngine.received` with the decoder kept between reads.
private struct Peer {
    let loop = EmbeddedEventLoop()
    let hub: Hub
    let shard: Shard
    let sink = EngineSink()
    let id: ConnectionID
    var decoder: InboundFrameDecoder

    init(wireProtocol: WireProtocol = .native, _ configure: (inout ShardSettings) -> Void = { _ in }) {
        var settings = ShardSettings()
        configure(&settings)
        self.hub = Hub(loops: [self.loop], settings: settings)
        self.shard = self.hub.shard(on: self.loop)
        self.id = self.shard.register(self.sink)
        self.shard.setWireProtocol(self.id, wireProtocol)
        self.sink.shard = self.shard
        self.sink.id = self.id
        self.decoder = InboundFrameDecoder(maxMessageBytes: settings.maxMessageBytes)
    }

    var connection: RecordingConnection { self.sink.connection }
    var actions: [RecordingConnection.Action] { self.sink.connection.actions }

    mutating func read(_ bytes: [UInt8]) {
        var input = ByteBuffer(bytes: bytes)
        var connection = SinkConnection(sink: self.sink)
        ConnectionEngine.received(
            &input,
            decoder: &self.decoder,
            id: self.id,
            shard: self.shard,
            hub: self.hub,
            connection: &connection
        )
    }

    func close(code: CloseCode, reason: String, because cause: CloseReason) {
        var connection = SinkConnection(sink: self.sink)
        ConnectionEngine.close(
            code: code,
            reason: reason,
            because: cause,
            id: self.id,
            shard: self.shard,
            connection: &connection
        )
    }

    func subscribers(_ channel: String) -> Int {
        self.shard.subscriberCount(of: try! ChannelName(validating: channel))
    }
}

/// A sink that owns its connection's state, as a transport's record does: a close the shard starts (idle, token,
/// flood), even while the engine handles an event, goes through `ConnectionEngine.close` on that same connection.
private final class EngineSink: ConnectionSink {
    struct Close: Equatable {
        var code: CloseCode
        var reason: String
        var cause: CloseReason
    }

    var connection = RecordingConnection()
    var written: [[UInt8]] = []
    var flushes = 0
    var closes: [Close] = []
    weak var shard: Shard?
    var id: ConnectionID?

    func write(_ bytes: ByteBuffer, slot: UInt32) { self.written.append(Array(bytes.readableBytesView)) }
    func flush(slot: UInt32) { self.flushes += 1 }
    func pendingOutboundBytes(slot: UInt32) -> Int { 0 }
    func bufferedInboundBytes(slot: UInt32) -> Int { 0 }

    func closeTimedOut(slot: UInt32) {
        var connection = SinkConnection(sink: self)
        ConnectionEngine.closeTimedOut(connection: &connection)
    }

    func close(slot: UInt32, code: CloseCode, reason: String, because cause: CloseReason) {
        self.closes.append(Close(code: code, reason: reason, cause: cause))
        guard let shard = self.shard, let id = self.id else { return }
        var connection = SinkConnection(sink: self)
        ConnectionEngine.close(
            code: code,
            reason: reason,
            because: cause,
            id: id,
            shard: shard,
            connection: &connection
        )
    }
}

/// The sink's connection as the engine sees it: every access goes to the sink's one `RecordingConnection`.
private struct SinkConnection: ConnectionActions {
    let sink: EngineSink

    var machine: WebSocketConnectionStateMachine {
        get { self.sink.connection.machine }
        nonmutating set { self.sink.connection.machine = newValue }
    }

    var closeReason: CloseReason? {
        get { self.sink.connection.closeReason }
        nonmutating set { self.sink.connection.closeReason = newValue }
    }

    var grant: ChannelGrant? { self.sink.connection.grant }
    var deflateWindowBits: UInt8 { self.sink.connection.deflateWindowBits }
    var pongMustWait: Bool { self.sink.connection.pongMustWait }
    var isReleased: Bool { self.sink.connection.isReleased }
    var allocator: ByteBufferAllocator { self.sink.connection.allocator }

    func writePong(_ pong: ByteBuffer) { self.sink.connection.writePong(pong) }
    func holdPong(_ pong: ByteBuffer) { self.sink.connection.holdPong(pong) }
    func takeWaitingPong() -> ByteBuffer? { self.sink.connection.takeWaitingPong() }
    func write(_ frame: ByteBuffer) { self.sink.connection.write(frame) }
    func writeThenCloseSocket(_ frame: ByteBuffer) { self.sink.connection.writeThenCloseSocket(frame) }
    func closeSocket() { self.sink.connection.closeSocket() }
}

// MARK: - Bytes

/// `bytes` as every two-read split (including an empty first or last read), then one byte per read.
private func splits(of bytes: [UInt8]) -> [[[UInt8]]] {
    (0...bytes.count).map { [Array(bytes[..<$0]), Array(bytes[$0...])] } + [bytes.map { [$0] }]
}

/// Runs `body` again when a second boundary passed during it: the control-frame limit counts per clock second.
private func inOneSecond<T>(_ body: () -> T) -> T {
    func second() -> UInt64 { NIODeadline.now().uptimeNanoseconds / 1_000_000_000 }
    while true {
        let start = second()
        let result = body()
        if second() == start { return result }
    }
}

/// A masked client frame.
private func masked(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
    ClientFrame(fin: fin, opcode: opcode, payload: payload).bytes
}

private func text(_ text: String, fin: Bool = true) -> [UInt8] { masked(0x1, Array(text.utf8), fin: fin) }
private func continuation(_ text: String, fin: Bool = true) -> [UInt8] { masked(0x0, Array(text.utf8), fin: fin) }
private func binary(_ payload: [UInt8]) -> [UInt8] { masked(0x2, payload) }
private func ping(_ payload: String) -> [UInt8] { masked(0x9, Array(payload.utf8)) }
private func pong(_ payload: String) -> [UInt8] { masked(0xA, Array(payload.utf8)) }
private func subscribe(_ channel: String) -> [UInt8] { text(#"{"subscribe":"\#(channel)"}"#) }

private func publish(_ channel: String, _ data: String) -> [UInt8] {
    text(#"{"publish":"\#(channel)","data":"\#(data)"}"#)
}

private func peerClose(_ code: UInt16) -> [UInt8] { masked(0x8, [UInt8(code >> 8), UInt8(code & 0xFF)]) }

/// Our pong's bytes.
private func pongFrame(_ payload: String) -> [UInt8] { [0x8A, UInt8(payload.utf8.count)] + Array(payload.utf8) }

/// Our close frame's bytes: code and reason.
private func closeFrame(_ code: UInt16, _ reason: String) -> [UInt8] {
    [0x88, UInt8(2 + reason.utf8.count), UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8)
}
