import ChorusCore
import ChorusTestSupport
import NIOCore
import Testing

@Suite struct UTF8ValidatorTests {
    /// Swift's own verdict, the reference implementation.
    static func swiftSaysValid(_ bytes: [UInt8]) -> Bool {
        if #available(macOS 15, *) {
            return String(validating: bytes, as: UTF8.self) != nil
        } else {
            return Array(String(decoding: bytes, as: UTF8.self).utf8) == bytes
        }
    }

    /// Whether some completion of `prefix` is valid UTF-8. A sequence needs at most 3 more continuation
    /// bytes, and every allowed continuation range contains one of 0x80, 0x90 or 0xA0.
    static func canBecomeValid(_ prefix: [UInt8]) -> Bool {
        if swiftSaysValid(prefix) { return true }
        let candidates: [UInt8] = [0x80, 0x90, 0xA0]
        var tails: [[UInt8]] = [[]]
        for _ in 0..<3 {
            tails = tails.flatMap { tail in candidates.map { tail + [$0] } }
            if tails.contains(where: { swiftSaysValid(prefix + $0) }) { return true }
        }
        return false
    }

    /// Validates the whole sequence at once and reports (valid, index of the byte where feeding first failed).
    static func run(_ bytes: [UInt8]) -> (valid: Bool, failedAt: Int?) {
        var validator = UTF8Validator()
        var failedAt: Int?
        for (index, byte) in bytes.enumerated() {
            let ok = [byte].withUnsafeBytes { validator.feed($0) }
            if !ok, failedAt == nil { failedAt = index }
        }
        return (failedAt == nil && validator.isAtCharacterBoundary, failedAt)
    }

    static let edgeCases: [[UInt8]] = [
        [],
        Array("plain ascii, longer than eight bytes".utf8),
        [0x24], [0xC2, 0xA2], [0xE2, 0x82, 0xAC], [0xF0, 0x90, 0x8D, 0x88],
        [0xC0, 0x80], [0xC1, 0xBF],  // overlong 2-byte
        [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF], [0xE0, 0xA0, 0x80],  // overlong 3-byte, then the first valid
        [0xF0, 0x80, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF],  // overlong 4-byte
        [0xED, 0x9F, 0xBF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],  // U+D7FF, surrogates
        [0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80],  // CESU-8 pair
        [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBF],  // U+E000, U+FFFF
        [0xF4, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80],  // U+10FFFF, U+110000
        [0xF5, 0x80, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFE], [0xFF],
        [0x80], [0xBF], [0x41, 0x80, 0x41],  // stray continuation
        [0xE2, 0x82], [0xF0, 0x90, 0x8D], [0xC2],  // truncated
        [0xC2, 0x41], [0xE2, 0x41, 0x82], [0xF0, 0x90, 0x41, 0x88],  // interrupted
        Array("κόσμε".utf8), Array("a😀b€c".utf8),
        Array("12345678é12345678".utf8), Array("1234567\u{80}".utf8),
    ]

    @Test(arguments: edgeCases)
    func edgeCase(bytes: [UInt8]) {
        let result = Self.run(bytes)
        #expect(result.valid == Self.swiftSaysValid(bytes))
        if let failedAt = result.failedAt {
            // Fail fast: the prefix up to the failing byte can never be valid, the one before it can.
            #expect(!Self.canBecomeValid(Array(bytes[...failedAt])))
            #expect(Self.canBecomeValid(Array(bytes[..<failedAt])))
        } else {
            #expect(Self.canBecomeValid(bytes))
        }
    }

    /// Random bytes biased towards UTF-8 structure, so invalid sequences are interesting rather than trivial.
    static func randomSequence(using rng: inout SplitMix64) -> [UInt8] {
        let pieces: [[UInt8]] = [
            [0x41], [0x7F], [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEF, 0xBF, 0xBD],
            [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], Array("abcdefghij".utf8),
        ]
        var bytes: [UInt8] = []
        for _ in 0..<Int.random(in: 0...8, using: &rng) {
            if Int.random(in: 0..<4, using: &rng) == 0 {
                bytes.append(UInt8.random(in: 0...255, using: &rng))
            } else {
                var piece = pieces.randomElement(using: &rng)!
                if Int.random(in: 0..<6, using: &rng) == 0 {
                    piece[Int.random(in: 0..<piece.count, using: &rng)] = UInt8.random(in: 0x80...0xFF, using: &rng)
                }
                if Int.random(in: 0..<8, using: &rng) == 0 { piece.removeLast() }
                bytes += piece
            }
        }
        return bytes
    }

    @Test func randomSequencesAgreeWithSwift() {
        var rng = SplitMix64(state: 0xC0FFEE)
        for _ in 0..<3000 {
            let bytes = Self.randomSequence(using: &rng)
            let result = Self.run(bytes)
            #expect(result.valid == Self.swiftSaysValid(bytes), "\(bytes)")

            // Fed in random pieces (through both entry points), the verdict is the same.
            var validator = UTF8Validator()
            var ok = true
            var rest = bytes[...]
            while !rest.isEmpty {
                let take = Int.random(in: 1...rest.count, using: &rng)
                let piece = Array(rest.prefix(take))
                rest = rest.dropFirst(take)
                ok =
                    (take % 2 == 0
                        ? validator.feed(ByteBuffer(bytes: piece)) : piece.withUnsafeBytes { validator.feed($0) }) && ok
            }
            #expect((ok && validator.isAtCharacterBoundary) == result.valid, "\(bytes)")
        }
    }

    @Test func randomFailFast() {
        var rng = SplitMix64(state: 42)
        for _ in 0..<300 {
            let bytes = Self.randomSequence(using: &rng)
            let result = Self.run(bytes)
            if let failedAt = result.failedAt {
                #expect(!Self.canBecomeValid(Array(bytes[...failedAt])), "\(bytes)")
                #expect(Self.canBecomeValid(Array(bytes[..<failedAt])), "\(bytes)")
            }
        }
    }

    @Test func staysFailedAndResets() {
        var validator = UTF8Validator()
        func feed(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { validator.feed($0) } }
        #expect(!feed([0xFF]))
        #expect(!validator.isAtCharacterBoundary)
        let stillFailed = validator.feed(ByteBuffer(string: "fine"))
        #expect(!stillFailed)
        validator.reset()
        let fine = validator.feed(ByteBuffer(string: "fine"))
        #expect(fine)
        #expect(validator.isAtCharacterBoundary)
    }

    @Test func boundaryAcrossFeeds() {
        var validator = UTF8Validator()
        func feed(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { validator.feed($0) } }
        #expect(feed([0x61, 0xF0, 0x9F]))
        #expect(!validator.isAtCharacterBoundary)
        #expect(feed([0x98]))
        #expect(!validator.isAtCharacterBoundary)
        #expect(feed([0x80]))
        #expect(validator.isAtCharacterBoundary)
    }

    @Test func bufferFeedDoesNotConsume() {
        var validator = UTF8Validator()
        var buffer = ByteBuffer(string: "xyz")
        buffer.moveReaderIndex(forwardBy: 1)
        let valid = validator.feed(buffer)
        #expect(valid)
        #expect(buffer.readableBytes == 2)
    }
}
