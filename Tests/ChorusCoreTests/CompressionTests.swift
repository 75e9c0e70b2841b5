import ChorusTestSupport
import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusCore

/// A JSON-like payload that compresses well (as broadcast payloads typically do).
func compressibleText(bytes: Int) -> String {
    var text = ""
    var index = 0
    while text.utf8.count < bytes {
        text += "{\"id\":\(index),\"price\":\(100 + index % 7).25,\"symbol\":\"CHOR\"},"
        index += 1
    }
    return String(text.prefix(bytes))
}

/// Inflates a compressed frame's payload the way a client does.
func inflate(_ payload: ByteBuffer, maxBytes: Int = 1 << 20) throws -> String {
    var compressed = ByteBuffer()
    compressed.writeImmutableBuffer(payload)
    let pool = InboundBufferPool(allocator: .init())
    switch try MessageInflater().inflate(&compressed, maxBytes: maxBytes, pool: pool) {
    case .inflated(let buffer): return String(buffer: buffer)
    case .tooBig, .corrupt: throw InflateFailed()
    }
}

struct InflateFailed: Error {}

/// Splits a written server frame into (first header byte, payload).
func parseServerFrame(_ frame: ByteBuffer) -> (UInt8, ByteBuffer) {
    var frame = frame
    let first = frame.readInteger(as: UInt8.self)!
    let length7 = Int(frame.readInteger(as: UInt8.self)! & 0x7F)
    let length: Int
    switch length7 {
    case 126: length = Int(frame.readInteger(as: UInt16.self)!)
    case 127: length = Int(frame.readInteger(as: UInt64.self)!)
    default: length = length7
    }
    return (first, frame.readSlice(length: length)!)
}

private func address(_ buffer: ByteBuffer) -> UInt {
    buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
}

@Suite("permessage-deflate: compress once, share, inflate with a bound")
struct CompressionTests {
    private func name(_ text: String) throws -> ChannelName { try ChannelName(validating: text) }

    @Test("one compression per message for N deflate subscribers on two shards; everyone shares storage")
    func compressOnceAndShare() throws {
        let shards = (0..<2).map { _ in Shard(eventLoop: EmbeddedEventLoop(), settings: ShardSettings()) }
        var plainSinks: [RecordingSink] = []
        var deflateSinks: [RecordingSink] = []
        for shard in shards {
            for index in 0..<10 {
                let sink = RecordingSink()
                let id = shard.register(sink)
                _ = shard.subscribe(id, to: try self.name("news"))
                if index % 2 == 0 {
                    shard.setDeflateWindowBits(id, 15)
                    deflateSinks.append(sink)
                } else {
                    plainSinks.append(sink)
                }
            }
        }
        let text = compressibleText(bytes: 2048)
        let frame = Frame(opcode: .text, payload: ByteBuffer(string: text))
        let compressed = CompressedFrames(plain: frame)
        for shard in shards {
            #expect(shard.deliver(frame, compressed: compressed, to: try self.name("news")) == 10)
        }
        var statistics = ShardStatistics()
        for shard in shards { statistics.add(shard.statistics) }
        #expect(statistics.compressedFrames == 1)
        #expect(statistics.compressedDeliveries == 10)
        #expect(statistics.deliveries == 20)
        #expect(plainSinks.allSatisfy { address($0.written[0]) == address(frame.bytes) })
        let shared = address(deflateSinks[0].written[0])
        #expect(shared != address(frame.bytes))
        #expect(deflateSinks.allSatisfy { $0.written.count == 1 && address($0.written[0]) == shared })
        let (first, payload) = parseServerFrame(deflateSinks[0].written[0])
        #expect(first == 0xC1)  // FIN, RSV1, text
        #expect(try inflate(payload) == text)
        #expect(statistics.compressionInputBytes == 2048)
        #expect(statistics.compressionOutputBytes == payload.readableBytes)
        #expect(payload.readableBytes * 4 < 2048)
        let compressedWire = deflateSinks[0].written[0].readableBytes
        #expect(statistics.deliveredBytes == 10 * frame.wireLength + 10 * compressedWire)
    }

    @Test("different server windows get one compressed frame each, not one per subscriber")
    func onePerWindowSize() throws {
        let shard = Shard(eventLoop: EmbeddedEventLoop(), settings: ShardSettings())
        var sinks: [RecordingSink] = []
        for bits: UInt8 in [15, 10, 15, 10, 9] {
            let sink = RecordingSink()
            let id = shard.register(sink)
            _ = shard.subscribe(id, to: try self.name("c"))
            shard.setDeflateWindowBits(id, bits)
            sinks.append(sink)
        }
        let text = compressibleText(bytes: 4096)
        let frame = Frame(opcode: .text, payload: ByteBuffer(string: text))
        #expect(shard.deliver(frame, compressed: CompressedFrames(plain: frame), to: try self.name("c")) == 5)
        #expect(shard.statistics.compressedFrames == 3)
        #expect(shard.statistics.compressedDeliveries == 5)
        #expect(address(sinks[0].written[0]) == address(sinks[2].written[0]))
        #expect(address(sinks[1].written[0]) == address(sinks[3].written[0]))
        #expect(address(sinks[0].written[0]) != address(sinks[1].written[0]))
        for sink in sinks {
            #expect(try inflate(parseServerFrame(sink.written[0]).1) == text)
        }
    }

    @Test("incompressible payloads go out plain (RSV1 clear) even to deflate subscribers")
    func incompressibleFallsBack() throws {
        let shard = Shard(eventLoop: EmbeddedEventLoop(), settings: ShardSettings())
        let sink = RecordingSink()
        let id = shard.register(sink)
        _ = shard.subscribe(id, to: try self.name("c"))
        shard.setDeflateWindowBits(id, 15)
        var generator = SystemRandomNumberGenerator()
        let random = (0..<1024).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let frame = Frame(opcode: .binary, payload: ByteBuffer(bytes: random))
        #expect(shard.deliver(frame, compressed: CompressedFrames(plain: frame), to: try self.name("c")) == 1)
        #expect(address(sink.written[0]) == address(frame.bytes))
        #expect(shard.statistics.compressedFrames == 0 && shard.statistics.compressedDeliveries == 0)
    }

    @Test("the hub compresses only messages of at least compressionMinBytes, and only with a deflate connection")
    func hubThresholdAndGate() throws {
        let loop = EmbeddedEventLoop()
        var settings = ShardSettings()
        settings.compressionMinBytes = 256
        let hub = Hub(loops: [loop], settings: settings)
        let shard = hub.shard(on: loop)
        let sink = RecordingSink()
        let id = shard.register(sink)
        _ = shard.subscribe(id, to: try self.name("c"))
        shard.setDeflateWindowBits(id, 15)
        let channel = try self.name("c")
        let large = compressibleText(bytes: 1024)

        // No connection counted as negotiated: the hub prepares nothing compressed.
        _ = hub.publish(ByteBuffer(string: large), opcode: .text, to: channel, source: .http, on: loop)
        loop.run()
        hub.compressionConnectionOpened()
        _ = hub.publish(ByteBuffer(string: String(large.prefix(255))), opcode: .text, to: channel, source: .http, on: loop)
        _ = hub.publish(ByteBuffer(string: String(large.prefix(256))), opcode: .text, to: channel, source: .http, on: loop)
        loop.run()
        #expect(sink.written.count == 3)
        let firstBytes = sink.written.map { parseServerFrame($0).0 }
        #expect(firstBytes == [0x81, 0x81, 0xC1])
        #expect(try inflate(parseServerFrame(sink.written[2]).1) == String(large.prefix(256)))
        #expect(shard.statistics.compressedFrames == 1)
        hub.compressionConnectionClosed()
        #expect(hub.hubCounters.compressionConnections == 0)
    }

    @Test("the metadata block does not grow for compression")
    func blockSize() {
        #expect(MemoryLayout<ConnectionBlock>.stride == 80)
    }
}

@Suite("permessage-deflate: inbound decoding")
struct InboundCompressionTests {
    private func deflated(_ text: String) throws -> [UInt8] {
        let deflater = try MessageDeflater(windowBits: 15, allocator: .init())
        let payload = try #require(deflater.compress(ByteBuffer(string: text)))
        return payload.readableArray
    }

    private func decodeCompressed(
        _ frames: [ClientFrame],
        maxMessageBytes: Int = 1 << 20
    ) throws -> [Decoded] {
        var decoder = InboundFrameDecoder(maxMessageBytes: maxMessageBytes)
        decoder.allowedReservedBits = 0x40
        let pool = InboundBufferPool(allocator: .init())
        let inflater = try MessageInflater()
        var events: [Decoded] = []
        for frame in frames {
            var input = ByteBuffer(bytes: frame.bytes)
            while let event = decoder.next(from: &input, pool: pool, inflater: inflater) {
                events.append(Decoded(event))
            }
        }
        return events
    }

    @Test("a compressed text message, whole or fragmented, inflates to the original; plain messages still work")
    func inflatesMessages() throws {
        let text = compressibleText(bytes: 3000)
        let payload = try self.deflated(text)
        let half = payload.count / 2
        let events = try self.decodeCompressed([
            ClientFrame(rsv: 0x40, opcode: 0x1, payload: payload),
            ClientFrame(fin: false, rsv: 0x40, opcode: 0x1, payload: Array(payload[..<half])),
            ClientFrame(opcode: 0x9, payload: [1, 2]),
            ClientFrame(opcode: 0x0, payload: Array(payload[half...])),
            ClientFrame(opcode: 0x1, text: "plain"),
        ])
        // The ping between the fragments is answered first, as the decoder hands it out when it arrives.
        #expect(events == [.text(text), .ping([1, 2]), .text(text), .text("plain")])
    }

    @Test(
        "RSV1 on a control or continuation frame is a protocol error (1002)",
        arguments: [UInt8(0x9), 0xA, 0x8]
    )
    func compressedControlFrames(opcode: UInt8) throws {
        let events = try self.decodeCompressed([ClientFrame(rsv: 0x40, opcode: opcode, payload: [])])
        #expect(events == [.failure(1002)])
        let continuation = try self.decodeCompressed([
            ClientFrame(fin: false, opcode: 0x1, text: "a"),
            ClientFrame(rsv: 0x40, opcode: 0x0, payload: [0x00]),
        ])
        #expect(continuation == [.failure(1002)])
    }

    @Test("a decompression bomb closes with 1009 once the output passes the limit")
    func bomb() throws {
        let zeros = String(repeating: "a", count: 4 << 20)
        let payload = try self.deflated(zeros)
        #expect(payload.count < 8192)
        var decoder = InboundFrameDecoder(maxMessageBytes: 65536)
        decoder.allowedReservedBits = 0x40
        let pool = InboundBufferPool(allocator: .init())
        let inflater = try MessageInflater()
        var input = ByteBuffer(bytes: ClientFrame(rsv: 0x40, opcode: 0x1, payload: payload).bytes)
        #expect(decoder.next(from: &input, pool: pool, inflater: inflater).map(Decoded.init) == .failure(1009))
        // 4 MiB were asked for; the output buffer stayed within twice the limit.
        #expect(inflater.largestOutputCapacity > 65536 && inflater.largestOutputCapacity <= 2 * 65537)
        let fits = try self.decodeCompressed(
            [ClientFrame(rsv: 0x40, opcode: 0x1, payload: try self.deflated(String(repeating: "a", count: 65536)))],
            maxMessageBytes: 65536
        )
        #expect(fits == [.text(String(repeating: "a", count: 65536))])
    }

    @Test("inflated text must be UTF-8 (1007); garbage that is not deflate data is a protocol error (1002)")
    func invalidContent() throws {
        let deflater = try MessageDeflater(windowBits: 15, allocator: .init())
        let invalid = ByteBuffer(bytes: Array(repeating: UInt8(0xFF), count: 600))
        let payload = try #require(deflater.compress(invalid)).readableArray
        #expect(try self.decodeCompressed([ClientFrame(rsv: 0x40, opcode: 0x1, payload: payload)]) == [.failure(1007)])
        #expect(try self.decodeCompressed([ClientFrame(rsv: 0x40, opcode: 0x2, payload: payload)]) == [.binary(Array(repeating: 0xFF, count: 600))])
        let garbage: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0x12, 0x34]
        #expect(try self.decodeCompressed([ClientFrame(rsv: 0x40, opcode: 0x1, payload: garbage)]) == [.failure(1002)])
    }

    @Test("without negotiation RSV1 is still refused")
    func notNegotiated() throws {
        var decoder = InboundFrameDecoder(maxMessageBytes: 1024)
        let pool = InboundBufferPool(allocator: .init())
        var input = ByteBuffer(bytes: ClientFrame(rsv: 0x40, opcode: 0x1, payload: [0x01]).bytes)
        let event = decoder.next(from: &input, pool: pool).map(Decoded.init)
        #expect(event == .failure(1002))
    }
}
