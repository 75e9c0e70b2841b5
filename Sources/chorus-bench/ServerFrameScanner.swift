/// Reads server-to-client WebSocket frames byte by byte without buffering them: the subscriber only needs a
/// frame's opcode and the first bytes of its payload (the timestamp and flag), so nothing is copied or kept
/// between reads and a frame split across reads costs nothing extra.
struct ServerFrameScanner {
    /// What one call to `scan` found that the handler must act on.
    enum Event {
        /// A complete data message (text or binary) carrying `sentAt` and the measured flag.
        case data(sentAt: UInt64, isMeasured: Bool)
        /// A ping: the handler answers with an empty pong.
        case ping
        /// A close frame: the handler closes the connection.
        case close
    }

    private enum State {
        case header
        case length
        case extendedLength(remaining: Int)
        case payload(remaining: Int)
    }

    private var state = State.header
    private var opcode: UInt8 = 0
    private var length = 0
    private var offset = 0
    private var sentAt: UInt64 = 0
    private var flag: UInt8 = 0

    /// Feeds `bytes`; calls `onEvent` for each complete frame that matters.
    mutating func scan(_ bytes: UnsafeRawBufferPointer, _ onEvent: (Event) -> Void) {
        var index = 0
        let count = bytes.count
        while index < count {
            switch self.state {
            case .header:
                self.opcode = bytes[index] & 0x0F
                index += 1
                self.state = .length
            case .length:
                let length = Int(bytes[index] & 0x7F)
                index += 1
                switch length {
                case 126: self.state = .extendedLength(remaining: 2)
                case 127: self.state = .extendedLength(remaining: 8)
                default: self.beginPayload(length: length, onEvent)
                }
                if case .extendedLength = self.state { self.length = 0 }
            case .extendedLength(let remaining):
                self.length = self.length << 8 | Int(bytes[index])
                index += 1
                if remaining == 1 {
                    self.beginPayload(length: self.length, onEvent)
                } else {
                    self.state = .extendedLength(remaining: remaining - 1)
                }
            case .payload(let remaining):
                // Only the first bytes of a data payload matter; skip the rest in one step.
                if self.offset < BenchPayload.minimumSize {
                    let byte = bytes[index]
                    if self.offset < BenchPayload.flagOffset {
                        self.sentAt |= UInt64(byte) << (8 * UInt64(self.offset))
                    } else {
                        self.flag = byte
                    }
                    self.offset += 1
                    index += 1
                    self.advance(by: 1, remaining: remaining, onEvent)
                } else {
                    let step = min(remaining, count - index)
                    index += step
                    self.advance(by: step, remaining: remaining, onEvent)
                }
            }
        }
    }

    private mutating func beginPayload(length: Int, _ onEvent: (Event) -> Void) {
        self.offset = 0
        self.sentAt = 0
        self.flag = 0
        if length == 0 {
            self.finish(onEvent)
        } else {
            self.state = .payload(remaining: length)
        }
    }

    private mutating func advance(by step: Int, remaining: Int, _ onEvent: (Event) -> Void) {
        if step == remaining { self.finish(onEvent) } else { self.state = .payload(remaining: remaining - step) }
    }

    private mutating func finish(_ onEvent: (Event) -> Void) {
        self.state = .header
        switch self.opcode {
        case 0x1, 0x2: onEvent(.data(sentAt: self.sentAt, isMeasured: self.flag == 1))
        case 0x8: onEvent(.close)
        case 0x9: onEvent(.ping)
        default: break  // continuation and pong frames: the server sends neither for broadcasts
        }
    }
}
