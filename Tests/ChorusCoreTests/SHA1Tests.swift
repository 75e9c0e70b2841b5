import Crypto
import Testing

@testable import ChorusCore

/// Chorus's own SHA-1 (for the accept value, without swift-crypto's allocation): the FIPS 180 examples, every
/// padding boundary against swift-crypto, and RFC 6455's handshake example.
@Suite("SHA-1")
struct SHA1Tests {
    private func hex(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { message in
            SHA1.withDigest(of: message) { $0.map { String(format2: $0) }.joined() }
        }
    }

    @Test("the FIPS 180 examples and the empty message")
    func knownDigests() {
        #expect(self.hex(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(self.hex([]) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(
            self.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        )
        #expect(
            self.hex(Array(repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        )
    }

    @Test(
        "every length from 0 to 300 bytes (one, two and several blocks, both padding cases) as swift-crypto hashes it"
    )
    func matchesSwiftCrypto() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...300 {
            let message = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let expected = Insecure.SHA1.hash(data: message).map { String(format2: $0) }.joined()
            #expect(self.hex(message) == expected, "length \(length)")
        }
    }

    @Test("RFC 6455 section 1.3's key gives its accept value, from a string and from bytes alike")
    func acceptValue() {
        let key = "dGhlIHNhbXBsZSBub25jZQ=="
        #expect(HandshakeValidator.acceptValue(forKey: key).string == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        let fromBytes = Array(key.utf8).withUnsafeBytes { HandshakeValidator.acceptValue(forKey: $0) }
        #expect(fromBytes.string == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }
}

extension String {
    /// Two lowercase hex digits.
    fileprivate init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef".utf8)
        self = String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 15)]], as: UTF8.self)
    }
}
