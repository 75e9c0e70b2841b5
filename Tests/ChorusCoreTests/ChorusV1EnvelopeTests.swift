import NIOCore
import Testing

@testable import ChorusCore

/// `ChorusV1Envelope.frame`: exact bytes of the text and binary envelopes, and where the data sits in them.
@Suite("chorus.v1 envelope: exact bytes, data range, frame header lengths")
struct ChorusV1EnvelopeTests {
    static let allocator = ByteBufferAllocator()
    static let news = try! ChannelName(validating: "news")
    static let epoch = Epoch("k3J9aB7x")!

    static func frame(
        _ payload: [UInt8],
        opcode: WebSocketOpcode = .text,
        isJSON: Bool = false,
        channel: ChannelName = Self.news,
        offset: UInt64 = 42,
        epoch: Epoch = Self.epoch
    ) -> (frame: Frame, dataRange: Range<Int>) {
        ChorusV1Envelope.frame(
            ByteBuffer(bytes: payload),
            opcode: opcode,
            isJSON: isJSON,
            channel: channel,
            position: StreamPosition(offset: offset, epoch: epoch)
        )
    }

    /// The frame's header for a payload of `length` bytes (server frames: FIN, never masked).
    static func header(_ opcode: WebSocketOpcode, length: Int) -> [UInt8] {
        let first: UInt8 = opcode == .text ? 0x81 : 0x82
        switch length {
        case 0...125:
            return [first, UInt8(length)]
        case 126...0xFFFF:
            return [first, 126, UInt8(length >> 8), UInt8(length & 0xFF)]
        default:
            return [first, 127] + (0..<8).reversed().map { UInt8((UInt64(length) >> ($0 * 8)) & 0xFF) }
        }
    }

    /// Checks the whole frame against `payload`, and that `dataRange` (and `HistoryEntry.data`) is exactly `data`.
    static func check(
        _ encoded: (frame: Frame, dataRange: Range<Int>),
        opcode: WebSocketOpcode,
        payload: [UInt8],
        data: [UInt8],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let (frame, dataRange) = encoded
        #expect(frame.opcode == opcode && !frame.isCompressed, sourceLocation: sourceLocation)
        #expect(frame.payloadLength == payload.count, sourceLocation: sourceLocation)
        #expect(
            frame.bytes.readableArray == Self.header(opcode, length: payload.count) + payload,
            sourceLocation: sourceLocation
        )
        #expect(frame.payload.readableArray == payload, sourceLocation: sourceLocation)
        #expect(dataRange.upperBound <= frame.bytes.readableBytes, sourceLocation: sourceLocation)
        #expect(Array(frame.bytes.readableArray[dataRange]) == data, sourceLocation: sourceLocation)
        let entry = HistoryEntry(offset: 0, rendition: Rendition(plain: frame, compressed: nil), dataRange: dataRange)
        #expect(entry.data.readableArray == data, sourceLocation: sourceLocation)
        #expect(entry.isBinary == (opcode == .binary), sourceLocation: sourceLocation)
        #expect(entry.cost == frame.wireLength + HistoryEntry.overheadBytes, sourceLocation: sourceLocation)
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).reversed().map { UInt8((value >> ($0 * 8)) & 0xFF) }
    }

    // MARK: Text

    @Test("a JSON payload is embedded as it is")
    func textJSON() {
        let data = Array(#"{"a":[1,"x"],"b":null}"#.utf8)
        let payload = Array(#"{"channel":"news","offset":42,"epoch":"k3J9aB7x","data":{"a":[1,"x"],"b":null}}"#.utf8)
        Self.check(Self.frame(data, isJSON: true), opcode: .text, payload: payload, data: data)
        #expect(JSONScanner.isJSONText(ByteBuffer(bytes: payload)))
    }

    @Test("other text becomes a JSON string: quotes, backslashes and control characters escaped, the rest unchanged")
    func textEscaped() {
        let text = "q\"b\\s/ \u{1} \u{0}\u{1F}\u{8}\u{C}\n\r\t \u{7F} é€😀"
        let quoted = #""q\"b\\s/ \u0001 \u0000\u001f\b\f\n\r\t "# + "\u{7F} é€😀\""
        let payload =
            Array(#"{"channel":"news","offset":42,"epoch":"k3J9aB7x","data":"#.utf8) + Array(quoted.utf8) + [0x7D]
        let encoded = Self.frame(Array(text.utf8))
        Self.check(encoded, opcode: .text, payload: payload, data: Array(quoted.utf8))
        #expect(JSONScanner.isJSONText(encoded.frame.payload))
    }

    @Test("an empty text payload is the empty string; an empty JSON-flagged one is embedded empty")
    func textEmpty() {
        let prefix = Array(#"{"channel":"news","offset":42,"epoch":"k3J9aB7x","data":"#.utf8)
        Self.check(Self.frame([]), opcode: .text, payload: prefix + Array(#""""#.utf8) + [0x7D], data: [0x22, 0x22])
        Self.check(Self.frame([], isJSON: true), opcode: .text, payload: prefix + [0x7D], data: [])
    }

    @Test(
        "offsets of 1, 9, 10 and 20 digits, in decimal without padding",
        arguments: [
            0, 7, 9, 10, 99, 100, 123_456_789, 999_999_999, 1_000_000_000, 9_999_999_999, 10_000_000_000, UInt64.max,
        ] as [UInt64]
    )
    func textOffsets(offset: UInt64) {
        let payload = Array(#"{"channel":"news","offset":\#(offset),"epoch":"k3J9aB7x","data":true}"#.utf8)
        Self.check(
            Self.frame(Array("true".utf8), isJSON: true, offset: offset),
            opcode: .text,
            payload: payload,
            data: Array("true".utf8)
        )
    }

    @Test("channel names and epochs of every allowed character and length go in unescaped")
    func textNamesAndEpochs() throws {
        let channel = try ChannelName(validating: "a.b:c-d_E9")
        let epoch = Epoch(String(repeating: "Z-_9", count: 8))!
        let payload = Array(#"{"channel":"a.b:c-d_E9","offset":1,"epoch":"\#(epoch.value)","data":"x"}"#.utf8)
        Self.check(
            Self.frame(Array("x".utf8), channel: channel, offset: 1, epoch: epoch),
            opcode: .text,
            payload: payload,
            data: Array(#""x""#.utf8)
        )
    }

    // MARK: Binary

    @Test("binary: format byte, channel length and name, big-endian offset, epoch length and epoch, then the payload")
    func binary() {
        let data: [UInt8] = [0x00, 0xFF, 0x10, 0x7B]
        let payload: [UInt8] =
            [0x01, 0x04, 0x6E, 0x65, 0x77, 0x73]  // format, "news"
            + [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]  // offset
            + [0x08, 0x6B, 0x33, 0x4A, 0x39, 0x61, 0x42, 0x37, 0x78]  // "k3J9aB7x"
            + data
        let encoded = Self.frame(data, opcode: .binary, offset: 0x0102_0304_0506_0708)
        Self.check(encoded, opcode: .binary, payload: payload, data: data)
        #expect(encoded.dataRange == 25..<29)
        // Whether the payload was flagged as JSON does not matter for binary.
        #expect(
            Self.frame(data, opcode: .binary, isJSON: true, offset: 0x0102_0304_0506_0708).frame.bytes
                == encoded.frame.bytes
        )
    }

    @Test("binary offsets are always 8 bytes", arguments: [0, 9, 10, 1_000_000_000, UInt64.max] as [UInt64])
    func binaryOffsets(offset: UInt64) throws {
        let channel = try ChannelName(validating: "c")
        let epoch = Epoch("e")!
        let payload: [UInt8] = [0x01, 0x01, 0x63] + Self.bigEndian(offset) + [0x01, 0x65, 0xAA]
        Self.check(
            Self.frame([0xAA], opcode: .binary, channel: channel, offset: offset, epoch: epoch),
            opcode: .binary,
            payload: payload,
            data: [0xAA]
        )
    }

    @Test("an empty binary payload: the data range is empty, at the end")
    func binaryEmpty() {
        let encoded = Self.frame([], opcode: .binary)
        #expect(encoded.dataRange == 25..<25)
        #expect(encoded.frame.bytes.readableBytes == 25)
        let payload = [0x01, 0x04] + Array("news".utf8) + Self.bigEndian(42) + [0x08] + Array("k3J9aB7x".utf8)
        Self.check(encoded, opcode: .binary, payload: payload, data: [])
    }

    // MARK: Frame header lengths

    /// Text envelope overhead for channel "c", offset 1 and an 8-character epoch: 52 bytes before the data, `}` after.
    static let textOverhead = 53
    /// Binary header for channel "c" and an 8-character epoch.
    static let binaryOverhead = 20

    @Test(
        "frame headers at the 125/126 and 65535/65536 payload-length boundaries",
        arguments: [
            124, 125, 126, 127, 65_535, 65_536, 70_000,
        ]
    )
    func headerLengths(payloadLength: Int) throws {
        let channel = try ChannelName(validating: "c")
        // Text: a JSON string filling the payload to the length wanted.
        let stringLength = payloadLength - Self.textOverhead
        let json = [0x22] + [UInt8](repeating: 0x78, count: stringLength - 2) + [0x22]
        let text = Self.frame(json, isJSON: true, channel: channel, offset: 1, epoch: Self.epoch)
        let textPayload = Array(#"{"channel":"c","offset":1,"epoch":"k3J9aB7x","data":"#.utf8) + json + [0x7D]
        #expect(textPayload.count == payloadLength)
        Self.check(text, opcode: .text, payload: textPayload, data: json)
        #expect(text.frame.headerLength == Self.header(.text, length: payloadLength).count)
        #expect(text.dataRange.lowerBound == text.frame.headerLength + Self.textOverhead - 1)

        // The same length, escaped: control characters take six bytes each.
        let controls = [UInt8](repeating: 0x01, count: (payloadLength - Self.textOverhead - 2) / 6)
        let padding = [UInt8](repeating: 0x78, count: (payloadLength - Self.textOverhead - 2) % 6)
        let escaped = Self.frame(controls + padding, channel: channel, offset: 1, epoch: Self.epoch)
        #expect(escaped.frame.payloadLength == payloadLength)
        #expect(
            escaped.frame.bytes.readableArray.prefix(escaped.frame.headerLength)
                == ArraySlice(Self.header(.text, length: payloadLength))
        )
        #expect(escaped.dataRange.count == payloadLength - Self.textOverhead)

        // Binary.
        let data = [UInt8](repeating: 0xB5, count: payloadLength - Self.binaryOverhead)
        let binary = Self.frame(data, opcode: .binary, channel: channel, offset: 1, epoch: Self.epoch)
        let binaryPayload = [0x01, 0x01, 0x63] + Self.bigEndian(1) + [0x08] + Array("k3J9aB7x".utf8) + data
        Self.check(binary, opcode: .binary, payload: binaryPayload, data: data)
        #expect(binary.dataRange.lowerBound == binary.frame.headerLength + Self.binaryOverhead)
    }
}
