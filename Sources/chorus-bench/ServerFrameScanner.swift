/// Reads server-to-client WebSocket frames byte by byte without buffering them: the subscriber only needs a
/// frame's opcode and the first bytes of its payload (a chorus.v1 header, then the timestamp and flag), so nothing
/// is copied or kept between reads and a frame split across reads costs nothing extra.
struct ServerFrameScanner {
    /// What one call to `scan` found that the handler must act on.
    enum Event {
        /// A delivered bench payload carrying `sentAt` and the measured flag: any data frame with `raw`, a binary
        /// delivery with `chorus.v1`.
        case data(sentAt: UInt64, isMeasured: Bool)
        /// chorus.v1: a binary delivery whose offset is not the previous delivery's plus one on this connection,
        /// for the same channel and epoch (reported before the delivery's `data`).
        case offsetGap
        /// chorus.v1: a binary frame that is no delivery of a bench payload (a bad header, or too short).
        case malformed
        /// chorus.v1: a text frame, by what it starts with.
        case text(TextKind)
        /// A ping: the handler answers with an empty pong.
        case ping
        /// A close frame: the handler closes the connection.
        case close
    }

    /// chorus.v1 text frames, told apart by their first key.
    enum TextKind {
        /// `{"channel":…}`: a text delivery (the bench publishes none; no timestamp).
        case delivery
        /// `{"subscribed":…}`: the confirmation of a subscription.
        case subscribed
        /// `{"error":…}`.
        case error
        /// `{"resync":…}`.
        case resync
        /// Anything else.
        case other

        /// The bytes a text frame of this kind starts with.
        fileprivate var prefix: StaticString {
            switch self {
            case .delivery: "{\"channel\""
            case .subscribed: "{\"subscribed\""
            case .error: "{\"error\""
            case .resync: "{\"resync\""
            case .other: "{\""
            }
        }
    }

    private enum State {
        case header
        case length
        case extendedLength(remaining: Int)
        case payload(remaining: Int)
    }

    /// How the current frame's payload is read.
    private enum Payload {
        /// A bench payload from the first byte (`raw` data frames).
        case bench
        /// A chorus.v1 binary delivery: header, then the bench payload.
        case chorusV1Binary
        /// A chorus.v1 text frame: only its first key matters.
        case chorusV1Text
        /// Control frames: the opcode is all that matters.
        case ignored
    }

    /// chorus.v1 binary header: version, channel length L, channel, offset (8 bytes), epoch length E, epoch.
    private static let chorusV1Version: UInt8 = 1
    private static let channelLengths = 1...128
    private static let epochLengths = 1...32
    private static let hashBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    private static let hashPrime: UInt64 = 0x100_0000_01b3

    private let isChorusV1: Bool
    private var state = State.header
    private var opcode: UInt8 = 0
    private var length = 0
    private var payload = Payload.ignored
    /// Payload bytes read one by one so far; past `prefixEnd` the rest of the payload is skipped in one step.
    private var offset = 0
    private var prefixEnd = 0
    /// Where the bench payload starts: 0 with `raw`, after the header with chorus.v1 (`Int.max` until known).
    private var bodyStart = 0
    private var sentAt: UInt64 = 0
    private var flag: UInt8 = 0

    // The chorus.v1 header of the current frame.
    private var headerValid = true
    /// Payload index just past the channel name: 2 + L.
    private var channelEnd = 2
    private var deliveryOffset: UInt64 = 0
    /// FNV-1a over L, the channel, E and the epoch: which offset sequence the delivery belongs to.
    private var streamHash: UInt64 = 0
    private var text = TextKind.other
    private var textMatched = false

    // The previous chorus.v1 delivery on this connection.
    private var hasPrevious = false
    private var previousStream: UInt64 = 0
    private var previousOffset: UInt64 = 0

    init(protocol wireProtocol: WireProtocol = .raw) {
        switch wireProtocol {
        case .raw: self.isChorusV1 = false
        case .chorusV1: self.isChorusV1 = true
        }
    }

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
                // Only the first bytes of a payload matter; skip the rest in one step.
                if self.offset == 0, self.payload == .chorusV1Binary {
                    // Usually the whole header is in this read: take it in one step.
                    let taken = self.readChorusV1Prefix(bytes, at: index, available: min(remaining, count - index))
                    if taken > 0 {
                        index += taken
                        self.advance(by: taken, remaining: remaining, onEvent)
                        continue
                    }
                }
                if self.offset < self.prefixEnd {
                    self.read(bytes[index])
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
        self.length = length
        self.offset = 0
        self.sentAt = 0
        self.flag = 0
        switch (self.opcode, self.isChorusV1) {
        case (0x1, false), (0x2, false):
            self.payload = .bench
            self.bodyStart = 0
            self.prefixEnd = BenchPayload.minimumSize
        case (0x2, true):
            self.payload = .chorusV1Binary
            self.bodyStart = .max
            self.prefixEnd = .max
            self.headerValid = true
            self.channelEnd = 2
            self.deliveryOffset = 0
            self.streamHash = Self.hashBasis
        case (0x1, true):
            self.payload = .chorusV1Text
            self.prefixEnd = .max
            self.text = .other
            self.textMatched = false
        default:
            self.payload = .ignored
            self.prefixEnd = 0
        }
        if length == 0 {
            self.finish(onEvent)
        } else {
            self.state = .payload(remaining: length)
        }
    }

    /// One byte of the payload's prefix, at `self.offset`.
    private mutating func read(_ byte: UInt8) {
        switch self.payload {
        case .bench:
            self.readBody(byte, at: self.offset)
        case .chorusV1Binary:
            self.readChorusV1Binary(byte)
        case .chorusV1Text:
            self.readChorusV1Text(byte)
        case .ignored:
            break
        }
    }

    private mutating func readBody(_ byte: UInt8, at position: Int) {
        if position < BenchPayload.flagOffset {
            self.sentAt |= UInt64(byte) << (8 * UInt64(position))
        } else {
            self.flag = byte
        }
    }

    private mutating func readChorusV1Binary(_ byte: UInt8) {
        let position = self.offset
        if position == 0 {
            if byte != Self.chorusV1Version { self.rejectHeader() }
        } else if position == 1 {
            guard Self.channelLengths.contains(Int(byte)) else { return self.rejectHeader() }
            self.channelEnd = 2 + Int(byte)
            self.hash(byte)
        } else if position < self.channelEnd {
            self.hash(byte)
        } else if position < self.channelEnd + 8 {
            self.deliveryOffset = self.deliveryOffset << 8 | UInt64(byte)  // big-endian
        } else if position == self.channelEnd + 8 {
            guard Self.epochLengths.contains(Int(byte)) else { return self.rejectHeader() }
            self.hash(byte)
            self.bodyStart = position + 1 + Int(byte)
            self.prefixEnd = self.bodyStart + BenchPayload.minimumSize
        } else if position < self.bodyStart {
            self.hash(byte)
        } else {
            self.readBody(byte, at: position - self.bodyStart)
        }
    }

    /// The chorus.v1 header, timestamp and flag read at once when they all lie in `bytes[start..<start + available]`
    /// and the header is valid; returns the bytes read, or 0 to leave the frame to the byte-by-byte path (which
    /// also rejects a bad header). Both paths leave the same state behind.
    private mutating func readChorusV1Prefix(_ bytes: UnsafeRawBufferPointer, at start: Int, available: Int) -> Int {
        guard available >= 2, bytes[start] == Self.chorusV1Version else { return 0 }
        let channelLength = Int(bytes[start + 1])
        let epochLengthAt = 2 + channelLength + 8
        guard Self.channelLengths.contains(channelLength), available > epochLengthAt else { return 0 }
        let epochLength = Int(bytes[start + epochLengthAt])
        let bodyStart = epochLengthAt + 1 + epochLength
        let prefixEnd = bodyStart + BenchPayload.minimumSize
        guard Self.epochLengths.contains(epochLength), available >= prefixEnd else { return 0 }
        self.hash(UInt8(channelLength))
        for position in 2..<(2 + channelLength) { self.hash(bytes[start + position]) }
        self.hash(UInt8(epochLength))
        for position in (epochLengthAt + 1)..<bodyStart { self.hash(bytes[start + position]) }
        self.channelEnd = 2 + channelLength
        self.deliveryOffset = UInt64(
            bigEndian: bytes.loadUnaligned(fromByteOffset: start + 2 + channelLength, as: UInt64.self)
        )
        self.bodyStart = bodyStart
        self.sentAt = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: start + bodyStart, as: UInt64.self))
        self.flag = bytes[start + bodyStart + BenchPayload.flagOffset]
        self.offset = prefixEnd
        self.prefixEnd = prefixEnd
        return prefixEnd
    }

    private mutating func rejectHeader() {
        self.headerValid = false
        self.prefixEnd = 0
    }

    private mutating func hash(_ byte: UInt8) {
        self.streamHash = (self.streamHash ^ UInt64(byte)) &* Self.hashPrime
    }

    private mutating func readChorusV1Text(_ byte: UInt8) {
        let position = self.offset
        if position == 2 {
            switch byte {
            case UInt8(ascii: "c"): self.text = .delivery
            case UInt8(ascii: "s"): self.text = .subscribed
            case UInt8(ascii: "e"): self.text = .error
            case UInt8(ascii: "r"): self.text = .resync
            default: self.text = .other
            }
        }
        let prefix = self.text.prefix
        guard position < prefix.utf8CodeUnitCount, byte == prefix.utf8Start[position] else {
            self.text = .other
            self.prefixEnd = 0
            return
        }
        // Bytes 0 and 1 are `{"` for every kind; from byte 2 on, the kind's own key.
        if position >= 2, position + 1 == prefix.utf8CodeUnitCount {
            self.textMatched = true
            self.prefixEnd = 0
        }
    }

    private mutating func advance(by step: Int, remaining: Int, _ onEvent: (Event) -> Void) {
        if step == remaining { self.finish(onEvent) } else { self.state = .payload(remaining: remaining - step) }
    }

    private mutating func finish(_ onEvent: (Event) -> Void) {
        self.state = .header
        switch self.opcode {
        case 0x1, 0x2:
            switch self.payload {
            case .bench:
                onEvent(.data(sentAt: self.sentAt, isMeasured: self.flag == 1))
            case .chorusV1Binary:
                self.finishChorusV1Binary(onEvent)
            case .chorusV1Text:
                onEvent(.text(self.textMatched ? self.text : .other))
            case .ignored:
                fatalError("Internal inconsistency: a data frame's payload was ignored")
            }
        case 0x8: onEvent(.close)
        case 0x9: onEvent(.ping)
        default: break  // continuation and pong frames: the server sends neither for broadcasts
        }
    }

    private mutating func finishChorusV1Binary(_ onEvent: (Event) -> Void) {
        // `bodyStart` is `Int.max` until the epoch length was read, so a frame cut short in the header fails here.
        guard self.headerValid, self.length >= self.bodyStart else { return onEvent(.malformed) }
        if self.hasPrevious, self.previousStream == self.streamHash, self.deliveryOffset != self.previousOffset &+ 1 {
            onEvent(.offsetGap)
        }
        // A new channel or epoch starts a new sequence: its first offset is not compared with anything.
        self.hasPrevious = true
        self.previousStream = self.streamHash
        self.previousOffset = self.deliveryOffset
        guard self.length >= self.bodyStart + BenchPayload.minimumSize else { return onEvent(.malformed) }
        onEvent(.data(sentAt: self.sentAt, isMeasured: self.flag == 1))
    }
}
