/// Reads the server's answer to the upgrade request byte by byte, without buffering it: whether the status is
/// 101, whether a `Sec-WebSocket-Protocol` header names the subprotocol the subscriber offered, and where the head
/// ends (the bytes after it are the first frames). A head split across reads costs nothing extra.
struct UpgradeResponseReader {
    /// Where the head stands after a call to `read`.
    enum Outcome: Equatable {
        /// The head has not ended yet; feed the next read.
        case incomplete
        /// The head ended before `bodyStart` (an index into the bytes last read): a 101 with the expected
        /// subprotocol, or any 101 when none was offered.
        case switched(bodyStart: Int)
        /// The status is not 101.
        case refused
        /// A 101 without `Sec-WebSocket-Protocol: <the offered subprotocol>`.
        case subprotocolMissing
    }

    /// How the current header line compares with `Sec-WebSocket-Protocol: <expected>`.
    private enum Line {
        /// The first `count` bytes match the header name (compared in lower case).
        case name(count: Int)
        /// After the colon, before the value.
        case leadingSpace
        /// The first `count` bytes of the value match the expected subprotocol.
        case value(count: Int)
        /// The whole value matched; only spaces may follow.
        case trailingSpace
        /// Some other line.
        case other
    }

    private static let endOfHead: [UInt8] = Array("\r\n\r\n".utf8)
    private static let switchingStatus: [UInt8] = Array("101".utf8)
    private static let headerName: [UInt8] = Array("sec-websocket-protocol:".utf8)

    /// The subprotocol's bytes, empty when none was offered (then any 101 will do).
    private let expected: [UInt8]
    private var seen = 0
    /// How many of "\r\n\r\n" the last bytes matched.
    private var matched = 0
    private var switching = true
    private var line = Line.other  // the status line is no header
    private var subprotocolFound = false

    /// `subprotocol`: the offered subprotocol's bytes, empty for none. One array shared by every connection.
    init(subprotocol: [UInt8]) {
        self.expected = subprotocol
    }

    /// Feeds the next bytes of the response.
    mutating func read(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        var index = 0
        while index < bytes.count, self.matched < 4 {
            let byte = bytes[index]
            // Status line "HTTP/1.1 101 ...": bytes 9 to 11 carry the status code.
            if (9...11).contains(self.seen) && byte != Self.switchingStatus[self.seen - 9] { self.switching = false }
            self.matched = byte == Self.endOfHead[self.matched] ? self.matched + 1 : (byte == 13 ? 1 : 0)
            self.seen += 1
            index += 1
            if !self.expected.isEmpty { self.match(byte) }
        }
        guard self.matched == 4 else { return .incomplete }
        guard self.switching else { return .refused }
        guard self.expected.isEmpty || self.subprotocolFound else { return .subprotocolMissing }
        return .switched(bodyStart: index)
    }

    private mutating func match(_ byte: UInt8) {
        let isSpace = byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
        switch byte {
        case UInt8(ascii: "\r"):
            switch self.line {
            case .value(let count) where count == self.expected.count: self.subprotocolFound = true
            case .trailingSpace: self.subprotocolFound = true
            case .name, .leadingSpace, .value, .other: break
            }
            self.line = .other
        case UInt8(ascii: "\n"):
            self.line = .name(count: 0)
        default:
            switch self.line {
            case .name(let count):
                // ASCII lower case; the header name is all lower-case letters, '-' and ':'.
                let lower = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
                if lower != Self.headerName[count] {
                    self.line = .other
                } else if count + 1 == Self.headerName.count {
                    self.line = .leadingSpace
                } else {
                    self.line = .name(count: count + 1)
                }
            case .leadingSpace where isSpace:
                break
            case .leadingSpace:
                self.line = byte == self.expected[0] ? .value(count: 1) : .other
            case .value(let count) where count == self.expected.count:
                self.line = isSpace ? .trailingSpace : .other
            case .value(let count):
                self.line = byte == self.expected[count] ? .value(count: count + 1) : .other
            case .trailingSpace:
                if !isSpace { self.line = .other }
            case .other:
                break
            }
        }
    }
}
