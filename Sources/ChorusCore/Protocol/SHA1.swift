/// SHA-1 (FIPS 180-4) over bytes in memory, for the `Sec-WebSocket-Accept` value only.
///
/// Written here rather than taken from swift-crypto because its hasher keeps its context in a class instance:
/// one heap allocation per hash, so one per upgrade. This one keeps the state in registers and pads the last
/// blocks in stack memory: no allocation. RFC 6455 uses SHA-1 as a checksum that the server read the
/// handshake, not for security; nothing else in Chorus may use it. (SwiftNIO carries its own SHA-1 for the same
/// value, internal to NIOWebSocket.) `SHA1Tests` checks it against FIPS vectors and swift-crypto.
enum SHA1 {
    /// The 20-byte digest of `message`, handed to `body`.
    static func withDigest<Result>(
        of message: UnsafeRawBufferPointer,
        _ body: (UnsafeRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        var state = State()
        let fullBlocks = message.count / 64
        for block in 0..<fullBlocks {
            state.compress(UnsafeRawBufferPointer(rebasing: message[(block * 64)..<(block * 64 + 64)]))
        }
        // The rest, 0x80, zeros and the bit length (big-endian) fill one block, or two past 55 bytes of rest.
        let rest = message.count - fullBlocks * 64
        let tailCount = rest < 56 ? 64 : 128
        withUnsafeTemporaryAllocation(byteCount: 128, alignment: 8) { tail in
            tail.initializeMemory(as: UInt8.self, repeating: 0)
            if rest > 0 {
                tail.copyMemory(from: UnsafeRawBufferPointer(rebasing: message[(fullBlocks * 64)...]))
            }
            tail[rest] = 0x80
            let bitCount = UInt64(message.count) &* 8
            for byte in 0..<8 {
                tail[tailCount - 1 - byte] = UInt8(truncatingIfNeeded: bitCount >> (8 * byte))
            }
            for offset in stride(from: 0, to: tailCount, by: 64) {
                state.compress(UnsafeRawBufferPointer(rebasing: tail[offset..<(offset + 64)]))
            }
        }
        var digest = (
            state.h0.bigEndian, state.h1.bigEndian, state.h2.bigEndian, state.h3.bigEndian, state.h4.bigEndian
        )
        return try withUnsafeBytes(of: &digest) { try body($0) }
    }

    /// The five chaining words.
    private struct State {
        var h0: UInt32 = 0x6745_2301
        var h1: UInt32 = 0xEFCD_AB89
        var h2: UInt32 = 0x98BA_DCFE
        var h3: UInt32 = 0x1032_5476
        var h4: UInt32 = 0xC3D2_E1F0

        /// Folds one 64-byte block into the state. The 80-word schedule is kept as a rolling window of 16.
        mutating func compress(_ block: UnsafeRawBufferPointer) {
            var w = (
                UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0),
                UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0)
            )
            var (a, b, c, d, e) = (self.h0, self.h1, self.h2, self.h3, self.h4)
            withUnsafeMutableBytes(of: &w) { raw in
                let words = raw.bindMemory(to: UInt32.self)
                for index in 0..<16 {
                    words[index] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
                }
                for round in 0..<80 {
                    let word: UInt32
                    if round < 16 {
                        word = words[round]
                    } else {
                        let mixed =
                            words[(round - 3) & 15] ^ words[(round - 8) & 15] ^ words[(round - 14) & 15]
                            ^ words[round & 15]
                        word = mixed << 1 | mixed >> 31
                        words[round & 15] = word
                    }
                    let f: UInt32
                    let k: UInt32
                    switch round {
                    case 0..<20:
                        f = (b & c) | (~b & d)
                        k = 0x5A82_7999
                    case 20..<40:
                        f = b ^ c ^ d
                        k = 0x6ED9_EBA1
                    case 40..<60:
                        f = (b & c) | (b & d) | (c & d)
                        k = 0x8F1B_BCDC
                    default:
                        f = b ^ c ^ d
                        k = 0xCA62_C1D6
                    }
                    let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ word
                    e = d
                    d = c
                    c = b << 30 | b >> 2
                    b = a
                    a = temp
                }
            }
            self.h0 &+= a
            self.h1 &+= b
            self.h2 &+= c
            self.h3 &+= d
            self.h4 &+= e
        }
    }
}
