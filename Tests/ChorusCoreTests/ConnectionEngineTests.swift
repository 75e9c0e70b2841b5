import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusCore

/// `ConnectionEngine`: exact actions for exact events, without sockets (both transports carry these out).
@Suite("Connection engine: one decision per event for both transports")
struct ConnectionEngineTests {
    private let loop = EmbeddedEventLoop()
    private let hub: Hub
    private let shard: Shard
    private let sink = RecordingSink()
    private let id: ConnectionID

    init() {
        self.hub = Hub(loops: [self.loop], settings: ShardSettings())
        self.shard = self.hub.shard(on: self.loop)
        self.id = self.shard.register(self.sink)
    }

    private func handle(_ event: InboundEvent, _ connection: inout RecordingConnection) {
        ConnectionEngine.handle(event, id: self.id, shard: self.shard, hub: self.hub, connection: &connection)
    }

    private func frame(_ text: String) -> Frame {
        Frame(opcode: .text, payload: ByteBuffer(string: text))
    }

    /// A close frame's bytes: code and reason.
    private func closeFrame(_ code: UInt16, _ reason: String = "") -> [UInt8] {
        [0x88, UInt8(2 + reason.utf8.count), UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8)
    }

    @Test("a ping is answered with a pong echoing its payload")
    func ping() {
        var connection = RecordingConnection()
        self.handle(.ping(ByteBuffer(string: "hi")), &connection)
        #expect(connection.actions == [.writePong([0x8A, 0x02, UInt8(ascii: "h"), UInt8(ascii: "i")])])
        #expect(connection.machine.isOpen && connection.closeReason == nil)
    }

    @Test("a ping while a pong waits holds its pong in place of the waiting one")
    func pingWhilePongWaits() {
        var connection = RecordingConnection()
        connection.pongMustWait = true
        self.handle(.ping(ByteBuffer(string: "a")), &connection)
        self.handle(.ping(ByteBuffer(string: "b")), &connection)
        #expect(
            connection.actions == [
                .holdPong([0x8A, 0x01, UInt8(ascii: "a")]), .holdPong([0x8A, 0x01, UInt8(ascii: "b")]),
            ]
        )
        #expect(self.shard.statistics.pongsReplaced == 2)
    }

    @Test("the waiting pong (the latest ping's answer) is released once writable, but never after our close frame")
    func waitingPongReleased() {
        var connection = RecordingConnection()
        connection.pongMustWait = true
        self.handle(.ping(ByteBuffer(string: "a")), &connection)
        self.handle(.ping(ByteBuffer(string: "b")), &connection)
        let ready = ConnectionEngine.pongReady(connection: &connection)
        #expect(ready.map { Array($0.readableBytesView) } == [0x8A, 0x01, UInt8(ascii: "b")])
        #expect(ConnectionEngine.pongReady(connection: &connection) == nil)

        self.handle(.ping(ByteBuffer(string: "c")), &connection)
        ConnectionEngine.close(
            code: .goingAway,
            reason: "shutdown",
            because: .shutdown,
            id: self.id,
            shard: self.shard,
            connection: &connection
        )
        #expect(ConnectionEngine.pongReady(connection: &connection) == nil)
        #expect(connection.waitingPong == nil)
    }

    @Test("a refused text message starts a close: 1008 with the parser's reason, then a wait for the answer")
    func textRefused() {
        var connection = RecordingConnection()
        self.handle(.text(ByteBuffer(string: "nonsense")), &connection)
        #expect(connection.actions == [.write(self.closeFrame(1008, "expected a JSON object"))])
        #expect(connection.closeReason == .policyViolation)
        #expect(connection.machine.state == .closingByUs)
        // The shard counts the connection as closing: its pings are no longer answered.
        #expect(self.shard.pingReceived(self.id, pongWaiting: false) == .none)
    }

    @Test("a subscriber's text command is applied, with no action")
    func textSubscribe() throws {
        var connection = RecordingConnection()
        self.handle(.text(ByteBuffer(string: #"{"subscribe":"news"}"#)), &connection)
        #expect(connection.actions.isEmpty)
        #expect(self.shard.deliver(self.frame("x"), to: try ChannelName(validating: "news")) == 1)
    }

    @Test("a binary message on a subscriber connection starts a close with 1003")
    func binaryOnSubscriber() {
        var connection = RecordingConnection()
        self.handle(.binary(ByteBuffer(bytes: [1, 2, 3])), &connection)
        #expect(
            connection.actions == [.write(self.closeFrame(1003, "binary messages are not accepted"))]
        )
        #expect(connection.closeReason == .protocolError)
    }

    @Test("echo mode sends text and binary messages back through the shard, with no action")
    func echo() {
        var connection = RecordingConnection()
        // A connection that chose the echo protocol at its upgrade.
        let echo = self.shard.register(self.sink)
        self.shard.setWireProtocol(echo, .echo)
        for event in [InboundEvent.text(ByteBuffer(string: "hi")), .binary(ByteBuffer(bytes: [7]))] {
            ConnectionEngine.handle(event, id: echo, shard: self.shard, hub: self.hub, connection: &connection)
        }
        #expect(connection.actions.isEmpty)
        #expect(
            self.sink.written.map { Array($0.readableBytesView) } == [[0x81, 0x02, 0x68, 0x69], [0x82, 0x01, 0x07]]
        )
    }

    @Test("a peer's close 1000 is echoed, then the socket closes; reason normal")
    func peerClose1000() {
        var connection = RecordingConnection()
        self.handle(.close(code: 1000, reason: ""), &connection)
        #expect(connection.actions == [.writeThenCloseSocket(self.closeFrame(1000))])
        #expect(connection.closeReason == .normal && connection.machine.state == .closingByPeer)
    }

    @Test("a peer's close 1001 is echoed, then the socket closes; reason going_away")
    func peerClose1001() {
        var connection = RecordingConnection()
        self.handle(.close(code: 1001, reason: "bye"), &connection)
        #expect(connection.actions == [.writeThenCloseSocket(self.closeFrame(1001))])
        #expect(connection.closeReason == .goingAway)
    }

    @Test("a protocol failure sends its close frame, then closes the socket without waiting")
    func failure() {
        var connection = RecordingConnection()
        self.handle(.failure(.protocolError, reason: "masked frame"), &connection)
        #expect(connection.actions == [.writeThenCloseSocket(self.closeFrame(1002, "masked frame"))])
        #expect(connection.closeReason == .protocolError && connection.machine.state == .closingByUs)
    }

    @Test("once closing, data and pings are ignored; the peer's answer closes the socket; later events close it")
    func eventsAfterClosing() {
        var connection = RecordingConnection()
        ConnectionEngine.close(
            code: .goingAway,
            reason: "idle timeout",
            because: .idleTimeout,
            id: self.id,
            shard: self.shard,
            connection: &connection
        )
        #expect(connection.actions == [.write(self.closeFrame(1001, "idle timeout"))])
        connection.actions = []
        self.handle(.text(ByteBuffer(string: #"{"subscribe":"news"}"#)), &connection)
        self.handle(.binary(ByteBuffer(bytes: [1])), &connection)
        self.handle(.ping(ByteBuffer()), &connection)
        self.handle(.pong(ByteBuffer()), &connection)
        // A second close from our side does nothing.
        ConnectionEngine.close(
            code: .policyViolation,
            reason: "slow consumer",
            because: .slowConsumer,
            id: self.id,
            shard: self.shard,
            connection: &connection
        )
        #expect(connection.actions.isEmpty)
        #expect(connection.closeReason == .idleTimeout)
        self.handle(.close(code: 1000, reason: ""), &connection)
        #expect(connection.actions == [.closeSocket])
        #expect(connection.machine.state == .closed)
        connection.actions = []
        self.handle(.close(code: 1000, reason: ""), &connection)
        #expect(connection.actions.isEmpty)
        self.handle(.failure(.protocolError, reason: "late"), &connection)
        #expect(connection.actions == [.closeSocket])
        #expect(connection.closeReason == .idleTimeout)
    }
}
