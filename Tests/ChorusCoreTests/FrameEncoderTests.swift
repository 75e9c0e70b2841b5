import ChorusCore
import NIOCore
import Testing

@Suite struct FrameEncoderTests {
    let allocator = ByteBufferAllocator()

    @Test(arguments: [
        (0, [0x82, 0x00] as [UInt8]),
        (125, [0x82, 0x7D]),
        (126, [0x82, 0x7E, 0x00, 0x7E]),
        (65535, [0x82, 0x7E, 0xFF, 0xFF]),
        (65536, [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]),
    ])
    func exactBytes(length: Int, header: [UInt8]) {
        let payloadBytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(FrameEncoder.headerLength(payloadLength: length) == header.count)

        let fromBuffer = FrameEncoder.encode(
            opcode: .binary,
            payload: ByteBuffer(bytes: payloadBytes)
        )
        #expect(fromBuffer.readableArray == header + payloadBytes)

        let fromPointer = payloadBytes.withUnsafeBytes {
            FrameEncoder.encode(opcode: .binary, payload: $0)
        }
        #expect(fromPointer.readableArray == header + payloadBytes)
    }

    @Test func textOpcodeAndPayloadReaderIndexRespected() {
        var payload = ByteBuffer(string: "xxHello")
        payload.moveReaderIndex(forwardBy: 2)
        let frame = FrameEncoder.encode(opcode: .text, payload: payload)
        #expect(frame.readableArray == [0x81, 0x05] + Array("Hello".utf8))
        #expect(payload.readableBytes == 5, "payload is not consumed")
    }

    @Test func pingAndPong() {
        #expect(
            FrameEncoder.ping(payload: ByteBuffer(string: "hi"), allocator: self.allocator).readableArray
                == [0x89, 0x02, 0x68, 0x69]
        )
        #expect(
            FrameEncoder.pong(payload: ByteBuffer(string: "hi"), allocator: self.allocator).readableArray
                == [0x8A, 0x02, 0x68, 0x69]
        )
        #expect(FrameEncoder.pong(payload: ByteBuffer(), allocator: self.allocator).readableArray == [0x8A, 0x00])
    }

    @Test func closeWithReason() {
        let frame = FrameEncoder.close(code: .goingAway, reason: "bye", allocator: self.allocator)
        #expect(frame.readableArray == [0x88, 0x05, 0x03, 0xE9, 0x62, 0x79, 0x65])
    }

    @Test func closeEcho() {
        #expect(FrameEncoder.closeEcho(code: nil, allocator: self.allocator).readableArray == [0x88, 0x00])
        #expect(
            FrameEncoder.closeEcho(code: 1000, allocator: self.allocator).readableArray == [0x88, 0x02, 0x03, 0xE8])
        #expect(
            FrameEncoder.closeEcho(code: 4000, allocator: self.allocator).readableArray == [0x88, 0x02, 0x0F, 0xA0])
    }

    @Test(arguments: [
        (String(repeating: "a", count: 200), 123),
        (String(repeating: "é", count: 100), 122),  // 2-byte characters: 123 would split one
        (String(repeating: "€", count: 50), 123),  // 3-byte characters: 41 fit exactly
        ("a" + String(repeating: "€", count: 50), 121),
        ("ab" + String(repeating: "😀", count: 40), 122),  // 4-byte characters: 2 + 30 * 4
        (String(repeating: "a", count: 123), 123),
        ("", 0),
    ])
    func closeReasonTruncatedAtCharacterBoundary(reason: String, expectedReasonBytes: Int) {
        let frame = FrameEncoder.close(code: .policyViolation, reason: reason, allocator: self.allocator)
        let bytes = frame.readableArray
        #expect(bytes[0] == 0x88)
        #expect(Int(bytes[1]) == 2 + expectedReasonBytes)
        #expect(bytes.count == 4 + expectedReasonBytes)
        #expect(Array(bytes[2..<4]) == [0x03, 0xF0])
        let reasonBytes = Array(bytes[4...])
        #expect(reasonBytes == Array(reason.utf8.prefix(expectedReasonBytes)))
        #expect(String(decoding: reasonBytes, as: UTF8.self).utf8.elementsEqual(reasonBytes))
    }

    /// A frame holds exactly its bytes: no power-of-two rounding carried for the life of a queued or kept frame.
    @Test(arguments: [1, 125, 1_024, 1_090, 70_000])
    func framesAreExactlySized(payloadLength: Int) {
        let payload = ByteBuffer(repeating: 0x61, count: payloadLength)
        let plain = Frame(opcode: .text, payload: payload)
        #expect(plain.bytes.capacity == plain.wireLength)
        let written = Frame(opcode: .binary, payloadLength: payloadLength) { $0.writeImmutableBuffer(payload) }
        #expect(written.bytes.capacity == written.wireLength)
        let compressed = Frame(opcode: .text, compressedPayload: payload)
        #expect(compressed.bytes.capacity == compressed.wireLength)
    }
}
