/// The RFC 6455 frame opcodes Chorus understands; anything else on the wire is a protocol error.
public enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Control frames (close, ping, pong) must be short and unfragmented, and may interleave with a data message.
    package var isControl: Bool {
        self.rawValue & 0x8 != 0
    }
}
