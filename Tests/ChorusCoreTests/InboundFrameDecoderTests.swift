import ChorusCore
import ChorusTestSupport
import NIOCore
import Testing

/// An InboundEvent with its buffers copied out, so results can be compared after the decoder moves on.
enum Decoded: Equatable, CustomStringConvertible {
    case text(String)
    case binary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    case close(UInt16?, String)
    case failure(UInt16)

    init(_ event: InboundEvent) {
        switch event {
        case .text(let buffer): self = .text(String(buffer: buffer))
        case .binary(let buffer): self = .binary(buffer.readableArray)
        case .ping(let buffer): self = .ping(buffer.readableArray)
        case .pong(let buffer): self = .pong(buffer.readableArray)
        case .close(let code, let reason): self = .close(code, reason)
        case .failure(let code, _): self = .failure(code.rawValue)
        }
    }

    var description: String {
        switch self {
        case .text(let text): "text(\(text.prefix(40)))"
        case .binary(let bytes): "binary(\(bytes.count) bytes)"
        case .ping(let bytes): "ping(\(bytes))"
        case .pong(let bytes): "pong(\(bytes))"
        case .close(let code, let reason): "close(\(String(describing: code)), \(reason))"
        case .failure(let code): "failure(\(code))"
        }
    }
}

/// Feeds `chunks` one read at a time, draining events after each, as a channel handler would.
func decode(
    _ chunks: [[UInt8]],
    maxMessageBytes: Int = 1 << 20,
    allowedReservedBits: UInt8 = 0,
    pool: InboundBufferPool = InboundBufferPool(allocator: ByteBufferAllocator())
) -> [Decoded] {
    var decoder = InboundFrameDecoder(maxMessageBytes: maxMessageBytes)
    decoder.allowedReservedBits = allowedReservedBits
    var events: [Decoded] = []
    for chunk in chunks {
        var input = ByteBuffer(bytes: chunk)
        while let event = decoder.next(from: &input, pool: pool) {
            events.append(Decoded(event))
        }
        #expect(input.readableBytes == 0, "nil means all input was consumed")
    }
    decoder.releaseBuffers(to: pool)
    return events
}

func decode(_ frames: ClientFrame..., maxMessageBytes: Int = 1 << 20) -> [Decoded] {
    decode([frames.flatMap(\.bytes)], maxMessageBytes: maxMessageBytes)
}

func failureReason(_ bytes: [UInt8], maxMessageBytes: Int = 1 << 20) -> String? {
    let pool = InboundBufferPool(allocator: ByteBufferAllocator())
    var decoder = InboundFrameDecoder(maxMessageBytes: maxMessageBytes)
    var input = ByteBuffer(bytes: bytes)
    while let event = decoder.next(from: &input, pool: pool) {
        if case .failure(_, let reason) = event { return reason }
    }
    return nil
}

@Suite struct InboundFrameDecoderTests {
    static let text: UInt8 = 0x1
    static let binary: UInt8 = 0x2
    static let continuation: UInt8 = 0x0
    static let close: UInt8 = 0x8
    static let ping: UInt8 = 0x9
    static let pong: UInt8 = 0xA

    // MARK: Valid traffic

    @Test func rfcMaskedHelloExample() {
        // RFC 6455 §5.7: a single-frame masked text message containing "Hello".
        #expect(decode([[0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]]) == [.text("Hello")])
    }

    @Test(arguments: [0, 1, 7, 8, 9, 125, 126, 1000, 65535, 65536, 70000])
    func binaryOfLength(length: Int) {
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        #expect(decode(ClientFrame(opcode: Self.binary, payload: payload)) == [.binary(payload)])
    }

    @Test func controlFrames() {
        let events = decode(
            ClientFrame(opcode: Self.ping, payload: [1, 2, 3]),
            ClientFrame(opcode: Self.pong, payload: []),
            ClientFrame(opcode: Self.ping, payload: [UInt8](repeating: 9, count: 125)),
            ClientFrame(opcode: Self.close, payload: [0x03, 0xE8] + Array("bye é".utf8))
        )
        #expect(
            events == [.ping([1, 2, 3]), .pong([]), .ping([UInt8](repeating: 9, count: 125)), .close(1000, "bye é")]
        )
    }

    /// A close frame is the last thing a connection reads: its payload buffer must go back to the pool as the same
    /// storage, not be replaced by a fresh allocation because a copy of it was still alive at the release.
    @Test func closePayloadBufferReturnsToThePoolUnshared() {
        let pool = InboundBufferPool(allocator: ByteBufferAllocator(), bufferCapacity: 256, maxFreeBuffers: 4)
        let pooled = pool.acquire(minimumCapacity: 0)
        let storage = pooled.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        pool.release(consume pooled)
        var decoder = InboundFrameDecoder(maxMessageBytes: 1 << 16)
        var input = ByteBuffer(bytes: ClientFrame(opcode: Self.close, payload: [0x03, 0xE8]).bytes)
        guard case .close(1000, "") = decoder.next(from: &input, pool: pool) else {
            Issue.record("not a close event")
            return
        }
        #expect(pool.freeBuffers == 0)
        decoder.releaseBuffers(to: pool)
        #expect(pool.freeBuffers == 1)
        let again = pool.acquire(minimumCapacity: 0)
        #expect(again.withVeryUnsafeBytes { UInt(bitPattern: $0.baseAddress) } == storage)
    }

    @Test func closeWithoutPayload() {
        #expect(decode(ClientFrame(opcode: Self.close)) == [.close(nil, "")])
    }

    @Test(arguments: [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999] as [UInt16])
    func closeWithValidCode(code: UInt16) {
        #expect(
            decode(ClientFrame(opcode: Self.close, payload: [UInt8(code >> 8), UInt8(code & 0xFF)])) == [
                .close(code, "")
            ]
        )
    }

    @Test func fragmentedTextWithInterleavedPing() {
        let events = decode(
            ClientFrame(fin: false, opcode: Self.text, text: "Hel"),
            ClientFrame(opcode: Self.ping, payload: [42]),
            ClientFrame(fin: false, opcode: Self.continuation, payload: []),
            ClientFrame(fin: false, opcode: Self.continuation, text: "lo, "),
            ClientFrame(opcode: Self.pong, payload: [43]),
            ClientFrame(opcode: Self.continuation, text: "wörld"),
            ClientFrame(opcode: Self.binary, payload: [1, 2])
        )
        #expect(events == [.ping([42]), .pong([43]), .text("Hello, wörld"), .binary([1, 2])])
    }

    @Test func characterSplitAcrossFragments() {
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        let events = decode(
            ClientFrame(fin: false, opcode: Self.text, payload: [0x61, euro[0]]),
            ClientFrame(fin: false, opcode: Self.continuation, payload: [euro[1]]),
            ClientFrame(opcode: Self.continuation, payload: [euro[2]])
        )
        #expect(events == [.text("a€")])
    }

    @Test func messageOfExactlyMaxSize() {
        let events = decode(
            ClientFrame(fin: false, opcode: Self.binary, payload: [UInt8](repeating: 1, count: 60)),
            ClientFrame(opcode: Self.continuation, payload: [UInt8](repeating: 2, count: 40)),
            maxMessageBytes: 100
        )
        #expect(events == [.binary([UInt8](repeating: 1, count: 60) + [UInt8](repeating: 2, count: 40))])
    }

    // MARK: Splitting

    static var stream: [UInt8] {
        let frames = [
            ClientFrame(fin: false, opcode: Self.text, text: "Grüße, "),
            ClientFrame(opcode: Self.ping, payload: Array("are you there".utf8)),
            ClientFrame(fin: false, opcode: Self.continuation, text: "€uro 😀 and a longer tail of text"),
            ClientFrame(opcode: Self.continuation, text: "!"),
            ClientFrame(opcode: Self.binary, payload: (0..<300).map { UInt8(truncatingIfNeeded: $0) }),
            ClientFrame(opcode: Self.text, text: ""),
            ClientFrame(opcode: Self.pong, payload: []),
            ClientFrame(opcode: Self.close, payload: [0x03, 0xE9] + Array("going".utf8)),
        ]
        return frames.flatMap(\.bytes)
    }

    static let expectedStream: [Decoded] = [
        .ping(Array("are you there".utf8)),
        .text("Grüße, €uro 😀 and a longer tail of text!"),
        .binary((0..<300).map { UInt8(truncatingIfNeeded: $0) }),
        .text(""),
        .pong([]),
        .close(1001, "going"),
    ]

    @Test func wholeStream() {
        #expect(decode([Self.stream]) == Self.expectedStream)
    }

    @Test func oneBytePieces() {
        #expect(decode(Self.stream.map { [$0] }) == Self.expectedStream)
    }

    @Test func splitAtEveryBoundary() {
        let stream = Self.stream
        for cut in 0...stream.count {
            let events = decode([Array(stream[..<cut]), Array(stream[cut...])])
            #expect(events == Self.expectedStream, "cut at \(cut)")
        }
    }

    @Test func randomPieces() {
        let stream = Self.stream
        var rng = SplitMix64(state: 7)
        for _ in 0..<300 {
            var chunks: [[UInt8]] = []
            var rest = stream[...]
            while !rest.isEmpty {
                let take = Int.random(in: 0...min(rest.count, 40), using: &rng)
                chunks.append(Array(rest.prefix(take)))
                rest = rest.dropFirst(take)
            }
            #expect(decode(chunks) == Self.expectedStream)
        }
    }

    // MARK: Protocol violations

    @Test func unmaskedFrame() {
        #expect(decode(ClientFrame(opcode: Self.text, payload: [0x61], mask: nil)) == [.failure(1002)])
        #expect(
            failureReason(ClientFrame(opcode: Self.text, payload: [0x61], mask: nil).bytes)
                == "client frame is not masked"
        )
    }

    @Test(arguments: [0x40, 0x20, 0x10, 0x70] as [UInt8])
    func reservedBits(rsv: UInt8) {
        #expect(decode(ClientFrame(rsv: rsv, opcode: Self.text, payload: [0x61])) == [.failure(1002)])
        #expect(decode(ClientFrame(rsv: rsv, opcode: Self.ping)) == [.failure(1002)])
    }

    @Test func allowedReservedBitsApplyToDataFramesOnly() {
        let allowed = decode(
            [ClientFrame(rsv: 0x40, opcode: Self.binary, payload: [1]).bytes],
            allowedReservedBits: 0x40
        )
        #expect(allowed == [.binary([1])])
        let otherBit = decode(
            [ClientFrame(rsv: 0x20, opcode: Self.binary, payload: [1]).bytes],
            allowedReservedBits: 0x40
        )
        #expect(otherBit == [.failure(1002)])
        let onPing = decode([ClientFrame(rsv: 0x40, opcode: Self.ping).bytes], allowedReservedBits: 0x40)
        #expect(onPing == [.failure(1002)])
        let onContinuation = decode(
            [
                ClientFrame(fin: false, opcode: Self.binary, payload: [1]).bytes
                    + ClientFrame(rsv: 0x40, opcode: Self.continuation, payload: [2]).bytes
            ],
            allowedReservedBits: 0x40
        )
        #expect(onContinuation == [.failure(1002)])
    }

    @Test(arguments: [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] as [UInt8])
    func unknownOpcode(opcode: UInt8) {
        #expect(decode(ClientFrame(opcode: opcode, payload: [1])) == [.failure(1002)])
    }

    @Test(arguments: [Self.ping, Self.pong, Self.close])
    func controlFrameRules(opcode: UInt8) {
        #expect(decode(ClientFrame(opcode: opcode, payload: [UInt8](repeating: 0x41, count: 126))) == [.failure(1002)])
        #expect(decode(ClientFrame(fin: false, opcode: opcode)) == [.failure(1002)])
    }

    @Test func oversizedControlFrameFailsFromTheHeaderAlone() {
        // A ping announcing 126 bytes (16-bit form) is refused before its length bytes arrive.
        #expect(decode([[0x89, 0xFE]]) == [.failure(1002)])
    }

    @Test func continuationWithoutMessage() {
        #expect(decode(ClientFrame(opcode: Self.continuation, text: "a")) == [.failure(1002)])
        #expect(
            decode(ClientFrame(opcode: Self.text, text: "a"), ClientFrame(opcode: Self.continuation, text: "b")) == [
                .text("a"), .failure(1002),
            ]
        )
    }

    @Test func newDataFrameDuringFragmentedMessage() {
        #expect(
            decode(ClientFrame(fin: false, opcode: Self.text, text: "a"), ClientFrame(opcode: Self.text, text: "b"))
                == [.failure(1002)]
        )
        #expect(
            decode(
                ClientFrame(fin: false, opcode: Self.binary, payload: [1]),
                ClientFrame(opcode: Self.binary, payload: [2])
            ) == [.failure(1002)]
        )
    }

    @Test func lengthWithMostSignificantBit() {
        var frame = ClientFrame(opcode: Self.binary)
        frame.forcedLength7 = 127
        frame.forcedExtendedLength = [0x80, 0, 0, 0, 0, 0, 0, 1]
        #expect(decode([frame.bytes]) == [.failure(1002)])
    }

    @Test func tooBigFailsAtTheHeaderWithoutThePayload() {
        // Only the 14-byte header of a 2^40-byte frame is ever sent.
        var frame = ClientFrame(opcode: Self.binary)
        frame.forcedLength7 = 127
        frame.forcedExtendedLength = [0, 0, 0x01, 0, 0, 0, 0, 0]
        let pool = InboundBufferPool(allocator: ByteBufferAllocator())
        #expect(decode([frame.bytes], maxMessageBytes: 1000, pool: pool) == [.failure(1009)])
        #expect(pool.acquired == 0, "nothing was buffered")

        // 16-bit form, one byte over.
        let header: [UInt8] = [0x82, 0xFE, 0x03, 0xE9, 1, 2, 3, 4]
        #expect(decode([header], maxMessageBytes: 1000) == [.failure(1009)])
        #expect(failureReason(header, maxMessageBytes: 1000) == "message longer than 1000 bytes")
    }

    @Test func tooBigAcrossFragments() {
        let events = decode(
            ClientFrame(fin: false, opcode: Self.text, text: String(repeating: "a", count: 60)),
            ClientFrame(opcode: Self.ping, payload: [1]),
            ClientFrame(opcode: Self.continuation, text: String(repeating: "b", count: 41)),
            maxMessageBytes: 100
        )
        #expect(events == [.ping([1]), .failure(1009)])
    }

    @Test func invalidUTF8InText() {
        #expect(decode(ClientFrame(opcode: Self.text, payload: [0x61, 0xC0, 0x80])) == [.failure(1007)])
        #expect(decode(ClientFrame(opcode: Self.text, payload: [0xED, 0xA0, 0x80])) == [.failure(1007)])
        #expect(decode(ClientFrame(opcode: Self.text, payload: [0xF4, 0x90, 0x80, 0x80])) == [.failure(1007)])
        // Binary is not validated.
        #expect(decode(ClientFrame(opcode: Self.binary, payload: [0xC0, 0x80])) == [.binary([0xC0, 0x80])])
    }

    @Test func invalidUTF8FailsFastMidFrame() {
        // Header of a 1000-byte text frame, then only the first few payload bytes: invalid at byte 2.
        let full = ClientFrame(opcode: Self.text, payload: [0x61, 0x62, 0xFF] + [UInt8](repeating: 0x61, count: 997))
            .bytes
        #expect(decode([Array(full.prefix(8 + 3))]) == [.failure(1007)])
    }

    @Test func invalidUTF8FailsFastMidMessage() {
        let events = decode(
            ClientFrame(fin: false, opcode: Self.text, payload: [0x61, 0xFF]),  // no final fragment ever sent
            ClientFrame(opcode: Self.ping)
        )
        #expect(events == [.failure(1007)])
    }

    @Test func textEndingInsideACharacter() {
        #expect(decode(ClientFrame(opcode: Self.text, payload: [0x61, 0xE2, 0x82])) == [.failure(1007)])
        #expect(
            decode(
                ClientFrame(fin: false, opcode: Self.text, payload: [0xE2]),
                ClientFrame(opcode: Self.continuation, payload: [0x82])
            )
                == [.failure(1007)]
        )
    }

    @Test func closePayloadOfOneByte() {
        #expect(decode(ClientFrame(opcode: Self.close, payload: [0x03])) == [.failure(1002)])
    }

    @Test(arguments: [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] as [UInt16])
    func closeWithInvalidCode(code: UInt16) {
        #expect(
            decode(ClientFrame(opcode: Self.close, payload: [UInt8(code >> 8), UInt8(code & 0xFF)])) == [.failure(1002)]
        )
    }

    @Test func closeReasonNotUTF8() {
        #expect(decode(ClientFrame(opcode: Self.close, payload: [0x03, 0xE8, 0xCE, 0xBA, 0xE1])) == [.failure(1007)])
        #expect(decode(ClientFrame(opcode: Self.close, payload: [0x03, 0xE8, 0xFF])) == [.failure(1007)])
    }

    @Test func nilForeverAfterFailure() {
        let pool = InboundBufferPool(allocator: ByteBufferAllocator())
        var decoder = InboundFrameDecoder(maxMessageBytes: 100)
        var input = ByteBuffer(bytes: ClientFrame(opcode: Self.text, text: "a").bytes + [0x83, 0x80, 0, 0, 0, 0])
        #expect(decoder.next(from: &input, pool: pool).map(Decoded.init) == .text("a"))
        #expect(decoder.next(from: &input, pool: pool).map(Decoded.init) == .failure(1002))
        var more = ByteBuffer(bytes: ClientFrame(opcode: Self.text, text: "b").bytes)
        #expect(decoder.next(from: &more, pool: pool) == nil)
        #expect(more.readableBytes == 0)
        #expect(decoder.bufferedCapacity == 0)
    }

    // MARK: Buffers

    @Test func idleDecoderHoldsNoBuffers() {
        let pool = InboundBufferPool(allocator: ByteBufferAllocator(), bufferCapacity: 4096)
        var decoder = InboundFrameDecoder(maxMessageBytes: 1 << 16)
        #expect(decoder.isIdle && decoder.bufferedCapacity == 0)

        let frame = ClientFrame(fin: false, opcode: Self.text, text: "hello").bytes
        var partial = ByteBuffer(bytes: Array(frame.prefix(3)))
        #expect(decoder.next(from: &partial, pool: pool) == nil)
        #expect(!decoder.isIdle)
        #expect(decoder.bufferedCapacity == 4096, "a stash for the partial header")

        var rest = ByteBuffer(
            bytes: Array(frame.dropFirst(3)) + ClientFrame(opcode: Self.continuation, text: "!").bytes
        )
        let event = decoder.next(from: &rest, pool: pool)
        #expect(event.map(Decoded.init) == .text("hello!"))
        #expect(decoder.isIdle)
        #expect(decoder.next(from: &rest, pool: pool) == nil)
        #expect(decoder.bufferedCapacity == 0, "the final nil call returns the event buffer")
        #expect(pool.freeBuffers == 2)
        #expect(pool.misses == 2, "stash and message")

        // The next message reuses pooled buffers.
        var again = ByteBuffer(
            bytes: ClientFrame(opcode: Self.ping, payload: [1]).bytes + ClientFrame(opcode: Self.text, text: "x").bytes
        )
        while decoder.next(from: &again, pool: pool) != nil {}
        #expect(pool.misses == 2)
        #expect(pool.hits == 2)
        #expect(decoder.bufferedCapacity == 0)
    }

    @Test func releaseBuffersMidMessage() {
        let pool = InboundBufferPool(allocator: ByteBufferAllocator())
        var decoder = InboundFrameDecoder(maxMessageBytes: 1 << 16)
        let frame = ClientFrame(opcode: Self.binary, payload: [UInt8](repeating: 1, count: 100)).bytes
        var partial = ByteBuffer(bytes: Array(frame.prefix(50)))
        #expect(decoder.next(from: &partial, pool: pool) == nil)
        #expect(!decoder.isIdle)
        #expect(decoder.bufferedCapacity > 0)
        decoder.releaseBuffers(to: pool)
        #expect(decoder.isIdle)
        #expect(decoder.bufferedCapacity == 0)
        #expect(pool.freeBuffers == 1)
    }

    @Test func largeMessageBufferIsNotKeptByThePool() {
        let pool = InboundBufferPool(allocator: ByteBufferAllocator(), bufferCapacity: 4096)
        let payload = [UInt8](repeating: 7, count: 64 * 1024)
        #expect(decode([ClientFrame(opcode: Self.binary, payload: payload).bytes], pool: pool) == [.binary(payload)])
        #expect(pool.bytesHeld <= 4096 * pool.freeBuffers)
        #expect(pool.freeBuffers == 0)
    }
}
