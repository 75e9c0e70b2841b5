import ChorusCore
import FuzzEntry
import NIOCore

// A libFuzzer target for the inbound frame decoder and the UTF-8 validator (see scripts/fuzz.sh).
//
// Input layout: byte 0 picks where the stream is split in two, byte 1 the message limit and pool buffer size,
// the rest is the client's byte stream. Each input is decoded three ways (in two pieces, byte by byte, whole)
// and every run must produce exactly the events of a simple whole-buffer reference parser written from
// RFC 6455; re-encoding the frames with the decoder's payloads must give back the bytes it consumed. A
// protocol failure must carry the reference's close code, which must be one a server may send. The decoder
// must never trap and never hold more than a bound derived from the message limit. The UTF-8 validator is
// compared with the standard library's validation, whole and split.
//
// Built with `-sanitize=fuzzer -DCHORUS_FUZZER` the entry point hands over to libFuzzer. In a plain build (as
// part of `swift build`) it runs each file named on the command line once, so a corpus or a crash artifact can
// be replayed without the fuzzer runtime: `swift run FrameFuzz Fuzz/corpus/*`.

@_cdecl("FrameFuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzTarget("FrameFuzz", argc, argv) { fuzzOneInput($0) }
}

func fuzzOneInput(_ bytes: UnsafeRawBufferPointer) {
    let input = Array(bytes)
    FrameProperty.check(input)
    UTF8Property.check(input)
}

/// Stops the run with a message libFuzzer reports as a crash.
func violated(_ message: @autoclosure () -> String) -> Never {
    fatalError("FrameFuzz property violated: \(message())")
}

// MARK: - Decoder

/// An event in a form that can be compared.
enum Event: Equatable, CustomStringConvertible {
    case text([UInt8])
    case binary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    case close(code: UInt16?, reason: String)
    case failure(UInt16)

    init(_ event: InboundEvent) {
        switch event {
        case .text(let buffer): self = .text(Array(buffer.readableBytesView))
        case .binary(let buffer): self = .binary(Array(buffer.readableBytesView))
        case .ping(let buffer): self = .ping(Array(buffer.readableBytesView))
        case .pong(let buffer): self = .pong(Array(buffer.readableBytesView))
        case .close(let code, let reason): self = .close(code: code, reason: reason)
        case .failure(let code, _): self = .failure(code.rawValue)
        }
    }

    var description: String {
        switch self {
        case .text(let bytes): "text(\(bytes.count) bytes)"
        case .binary(let bytes): "binary(\(bytes.count) bytes)"
        case .ping(let bytes): "ping(\(bytes.count) bytes)"
        case .pong(let bytes): "pong(\(bytes.count) bytes)"
        case .close(let code, let reason): "close(\(code.map(String.init) ?? "none"), \(reason.utf8.count) bytes)"
        case .failure(let code): "failure(\(code))"
        }
    }
}

/// One complete frame as the reference parser saw it.
struct ReferenceFrame {
    var byte0: UInt8
    /// The length field as sent (7-bit value, then 0, 2 or 8 extended bytes), so re-encoding is exact.
    var length7: UInt8
    var payloadLength: Int
    var key: [UInt8]
    var isControl: Bool
}

enum FrameProperty {
    static func check(_ input: [UInt8]) {
        guard input.count >= 2 else { return }
        let limits = [0, 1, 2, 16, 125, 126, 127, 200, 1024, 65536]
        let maxMessageBytes = limits[Int(input[1] & 0x0F) % limits.count]
        let poolCapacity = input[1] & 0x10 != 0 ? 16 : 4096
        let stream = Array(input[2...])
        let split = Int(input[0]) % (stream.count + 1)

        let (expected, frames, consumed) = Self.reference(stream, maxMessageBytes: maxMessageBytes)
        let chunkings: [[ArraySlice<UInt8>]] = [
            [stream[..<split], stream[split...]],
            stream.indices.map { stream[$0...$0] },
            [stream[...]],
        ]
        for chunks in chunkings {
            let events = Self.decode(chunks, maxMessageBytes: maxMessageBytes, poolCapacity: poolCapacity)
            guard events == expected else {
                violated(
                    "decoder gave \(events), reference \(expected) (limit \(maxMessageBytes), \(chunks.count) chunks)"
                )
            }
        }
        if case .failure(let code) = expected.last {
            guard [1002, 1007, 1009].contains(code), CloseCode.isValidOnWire(code) else {
                violated("failure with close code \(code)")
            }
        }
        Self.checkReencoding(stream, frames: frames, consumed: consumed, events: expected)
    }

    /// Feeds `chunks` to a fresh decoder, collecting every event; checks memory and input consumption on the way.
    static func decode(_ chunks: [ArraySlice<UInt8>], maxMessageBytes: Int, poolCapacity: Int) -> [Event] {
        let pool = InboundBufferPool(allocator: ByteBufferAllocator(), bufferCapacity: poolCapacity, maxFreeBuffers: 4)
        var decoder = InboundFrameDecoder(maxMessageBytes: maxMessageBytes)
        // Stash (one pooled buffer), message (the limit, grown by doubling) and the last event's buffer.
        let bound = 3 * max(2 * poolCapacity, 2 * maxMessageBytes + 256)
        var events: [Event] = []
        for chunk in chunks {
            var buffer = ByteBuffer(bytes: chunk)
            while let event = decoder.next(from: &buffer, pool: pool) {
                events.append(Event(event))
                guard decoder.bufferedCapacity <= bound else {
                    violated("decoder holds \(decoder.bufferedCapacity) bytes with a limit of \(maxMessageBytes)")
                }
            }
            guard buffer.readableBytes == 0 else { violated("next returned nil with \(buffer.readableBytes) unread") }
            guard decoder.bufferedCapacity <= bound else {
                violated("decoder holds \(decoder.bufferedCapacity) bytes with a limit of \(maxMessageBytes)")
            }
        }
        decoder.releaseBuffers(to: pool)
        guard decoder.bufferedCapacity == 0 else { violated("buffers kept after releaseBuffers") }
        return events
    }

    /// A plain whole-buffer parser written from RFC 6455 (independent of the decoder's incremental design):
    /// the events the decoder must produce, the complete frames, and the bytes they span.
    static func reference(_ bytes: [UInt8], maxMessageBytes: Int) -> ([Event], [ReferenceFrame], Int) {
        var events: [Event] = []
        var frames: [ReferenceFrame] = []
        var offset = 0
        var message: [UInt8]? = nil
        var isText = false
        var validator = UTF8Validator()

        func fail(_ code: UInt16) -> ([Event], [ReferenceFrame], Int) {
            (events + [.failure(code)], frames, offset)
        }
        func unmask(_ start: Int, _ count: Int, _ key: [UInt8], phase: Int = 0) -> [UInt8] {
            (0..<count).map { bytes[start + $0] ^ key[(phase + $0) % 4] }
        }

        while bytes.count - offset >= 2 {
            let byte0 = bytes[offset]
            let byte1 = bytes[offset + 1]
            let opcode = byte0 & 0x0F
            let fin = byte0 & 0x80 != 0
            guard [0x0, 0x1, 0x2, 0x8, 0x9, 0xA].contains(opcode) else { return fail(1002) }
            guard byte0 & 0x70 == 0 else { return fail(1002) }
            guard byte1 & 0x80 != 0 else { return fail(1002) }
            let length7 = byte1 & 0x7F
            if opcode >= 0x8 {
                guard fin, length7 <= 125 else { return fail(1002) }
                let length = Int(length7)
                guard bytes.count - offset >= 6 + length else { break }
                let key = Array(bytes[(offset + 2)..<(offset + 6)])
                let payload = unmask(offset + 6, length, key)
                frames.append(
                    ReferenceFrame(byte0: byte0, length7: length7, payloadLength: length, key: key, isControl: true)
                )
                offset += 6 + length
                switch opcode {
                case 0x9: events.append(.ping(payload))
                case 0xA: events.append(.pong(payload))
                default:
                    if payload.isEmpty {
                        events.append(.close(code: nil, reason: ""))
                    } else if payload.count == 1 {
                        return fail(1002)
                    } else {
                        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
                        guard (1000...1003).contains(code) || (1007...1014).contains(code)
                            || (3000...4999).contains(code)
                        else { return fail(1002) }
                        guard let reason = String(validating: payload[2...], as: UTF8.self) else { return fail(1007) }
                        events.append(.close(code: code, reason: reason))
                    }
                }
                continue
            }
            if opcode == 0x0 {
                guard message != nil else { return fail(1002) }
            } else {
                guard message == nil else { return fail(1002) }
            }
            let headerLength = length7 == 126 ? 8 : length7 == 127 ? 14 : 6
            guard bytes.count - offset >= headerLength else { break }
            var length: UInt64 = UInt64(length7)
            if length7 >= 126 {
                length = 0
                for index in (offset + 2)..<(offset + headerLength - 4) { length = length << 8 | UInt64(bytes[index]) }
                guard length >> 63 == 0 else { return fail(1002) }
            }
            guard length <= UInt64(maxMessageBytes - (message?.count ?? 0)) else { return fail(1009) }
            let payloadLength = Int(length)
            if opcode != 0x0 {
                message = []
                isText = opcode == 0x1
            }
            let key = Array(bytes[(offset + headerLength - 4)..<(offset + headerLength)])
            let available = min(payloadLength, bytes.count - offset - headerLength)
            let payload = unmask(offset + headerLength, available, key)
            if isText {
                let valid = payload.withUnsafeBytes { validator.feed($0) }
                guard valid else { return fail(1007) }
            }
            guard available == payloadLength else { break }
            frames.append(
                ReferenceFrame(byte0: byte0, length7: length7, payloadLength: payloadLength, key: key, isControl: false)
            )
            offset += headerLength + payloadLength
            message! += payload
            if fin {
                if isText {
                    guard validator.isAtCharacterBoundary else { return fail(1007) }
                    validator.reset()
                    events.append(.text(message!))
                } else {
                    events.append(.binary(message!))
                }
                message = nil
            }
        }
        return (events, frames, offset)
    }

    /// Re-encodes the complete frames with the payloads the decoder produced (data messages cut back into their
    /// frames) and checks that this reproduces the consumed input byte for byte.
    static func checkReencoding(_ stream: [UInt8], frames: [ReferenceFrame], consumed: Int, events: [Event]) {
        var controlPayloads: [[UInt8]] = []
        var dataPayloads: [UInt8] = []
        for event in events {
            switch event {
            case .text(let bytes), .binary(let bytes): dataPayloads += bytes
            case .ping(let bytes), .pong(let bytes): controlPayloads.append(bytes)
            case .close(let code, let reason):
                controlPayloads.append(code.map { [UInt8($0 >> 8), UInt8($0 & 0xFF)] + Array(reason.utf8) } ?? [])
            case .failure: break
            }
        }
        var output: [UInt8] = []
        var control = 0
        var data = 0
        for frame in frames {
            var payload: [UInt8]
            if frame.isControl {
                guard control < controlPayloads.count else { break }  // a close that failed validation
                payload = controlPayloads[control]
                control += 1
            } else {
                // The last message may be incomplete (no event yet): its frames cannot be re-encoded.
                guard data + frame.payloadLength <= dataPayloads.count else { break }
                payload = Array(dataPayloads[data..<(data + frame.payloadLength)])
                data += frame.payloadLength
            }
            output.append(frame.byte0)
            output.append(0x80 | frame.length7)
            if frame.length7 == 126 {
                output += [UInt8(frame.payloadLength >> 8), UInt8(frame.payloadLength & 0xFF)]
            } else if frame.length7 == 127 {
                output += (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(frame.payloadLength) >> ($0 * 8)) }
            }
            output += frame.key
            for index in payload.indices { payload[index] ^= frame.key[index % 4] }
            output += payload
        }
        guard output.count <= consumed, output[...] == stream[..<output.count] else {
            violated("re-encoded frames (\(output.count) bytes) do not reproduce the input")
        }
    }
}

// MARK: - UTF-8

enum UTF8Property {
    static func check(_ input: [UInt8]) {
        let expected = String(validating: input, as: UTF8.self) != nil
        var whole = UTF8Validator()
        let wholeResult = input.withUnsafeBytes { whole.feed($0) } && whole.isAtCharacterBoundary
        guard wholeResult == expected else {
            violated("UTF8Validator says \(wholeResult), the standard library \(expected), for \(input)")
        }
        // Split at every point in turn for short inputs, at one data-derived point for long ones.
        let points = input.count <= 64 ? Array(0...input.count) : [Int(input.first!) % (input.count + 1)]
        for point in points {
            var split = UTF8Validator()
            let first = input[..<point].withUnsafeBytes { split.feed($0) }
            let second = input[point...].withUnsafeBytes { split.feed($0) }
            let result = first && second && split.isAtCharacterBoundary
            guard result == expected else { violated("UTF8Validator split at \(point) says \(result) for \(input)") }
            // Fail-fast must not be premature: a prefix it rejects must not be a prefix of the valid input.
            if !first && expected { violated("UTF8Validator rejected a prefix of valid input \(input)") }
        }
    }
}
