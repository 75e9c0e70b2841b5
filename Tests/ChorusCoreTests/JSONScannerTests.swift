import ChorusCore
import ChorusTestSupport
import Foundation
import NIOCore
import Testing

@Suite struct JSONScannerTests {
    static func isJSONText(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { JSONScanner.isJSONText($0) }
    }

    static func valueEnd(_ text: String, from start: Int = 0) -> Int? {
        Array(text.utf8).withUnsafeBytes { JSONScanner.valueEnd(in: $0, from: start) }
    }

    /// Escapes the bytes for a readable failure message.
    static func show(_ bytes: [UInt8]) -> String {
        bytes.map { $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C ? String(UnicodeScalar($0)) : "\\x\(String($0, radix: 16))" }
            .joined()
    }

    // MARK: - Every production, valid and invalid

    static let validTexts: [String] = [
        // Literals and whitespace around them.
        "true", "false", "null", " true", "null ", "\t\r\n null \n\r\t",
        // Numbers.
        "0", "-0", "7", "-7", "10", "1234567890", "0.5", "-0.5", "0.5e-3", "1e5", "1E5", "1e+5", "1e-5", "1.25E+10",
        "-0.0e0", "0e0", "123456789012345678901234567890", "1e999", "-1.5e-999",
        // Strings and every escape.
        "\"\"", "\"a\"", "\"hello, world\"", "\"\\\"\"", "\"\\\\\"", "\"\\/\"", "\"\\b\\f\\n\\r\\t\"", "\"\\u00e9\"",
        "\"\\u00E9\"", "\"\\u0000\"", "\"\\uFFFF\"", "\"\\ud83d\\ude00\"", "\"é\"", "\"€\"", "\"😀\"", "\"\u{7F}\"",
        "\"a longer string, past the eight-byte fast path: 0123456789abcdef\"", "\"12345678\\n12345678é12345678\"",
        "\"/* not a comment */\"", "\"[1,]\"",
        // Lone surrogates are grammatical (RFC 8259 §8.2); the scanner accepts them on purpose.
        "\"\\ud800\"", "\"\\udc00x\"", "\"\\uDBFF\\uDBFF\"",
        // Arrays.
        "[]", "[ ]", "[\n]", "[1]", "[1,2,3]", "[ 1 , 2 , 3 ]", "[[]]", "[[],[]]", "[\"a\",true,null,-1.5e3,{}]",
        // Objects.
        "{}", "{ }", "{\"a\":1}", "{ \"a\" : 1 }", "{\"a\":1,\"b\":[true,false]}", "{\"\":\"\"}", "{\"a\":1,\"a\":2}",
        "{\"a\":{\"b\":{\"c\":[{\"d\":null}]}}}", "{\"é\":\"\\u00e9\"}",
        // Nested and mixed.
        "[{\"a\":[{}, [], [[{}]]]}, \"x\", 0]", " { \"k\" : [ 1 , { \"n\" : null } ] } ",
    ]

    @Test(arguments: validTexts)
    func valid(text: String) {
        #expect(Self.isJSONText(Array(text.utf8)), "\(text)")
    }

    static let invalidTexts: [String] = [
        // Nothing, or only whitespace; whitespace that JSON does not have.
        "", " ", "\n\t\r", "\u{0C}1", "\u{0B}1", "\u{A0}1", "1\u{0C}",
        // Literals.
        "tru", "t", "fals", "nul", "True", "FALSE", "nulll", "truex", "NaN", "Infinity", "-Infinity", "undefined",
        // Numbers.
        "01", "00", "-01", "1.", ".5", "-", "+1", "1.e5", "1e", "1e+", "1E-", "--1", "-.5", "0x10", "1_000", "1.2.3",
        "0.5e-3e1", "1 2", "- 1",
        // Strings.
        "\"", "\"abc", "\"abc\\\"", "\"\\\"", "\"\\x\"", "\"\\U0041\"", "\"\\u00e\"", "\"\\u00eg\"", "\"\\u\"", "'a'",
        "\"\u{01}\"", "\"\u{1F}\"", "\"a\nb\"", "\"a\tb\"", "\"a\rb\"", "\"a\" \"b\"", "\"0123456789abcdef",
        // Arrays.
        "[", "]", "[1", "[1,]", "[,1]", "[,]", "[1 2]", "[1,,2]", "[1;2]", "[[]", "[]]", "[1]]",
        // Objects.
        "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,\"a\":1}", "{\"a\" 1}", "{\"a\":1 \"b\":2}", "{a:1}", "{1:2}",
        "{\"a\"::1}", "{\"a\":1}}", "{[]:1}", "{\"a\":1", "{\"a\":1,", "{\"a\",1}", "{null:1}",
        // Two values, comments, trailing garbage.
        "[] []", "{}{}", "1 2", "[1]//c", "/*c*/[1]", "# c\n1", "[1]x", "truefalse",
    ]

    @Test(arguments: invalidTexts)
    func invalid(text: String) {
        #expect(!Self.isJSONText(Array(text.utf8)), "\(text)")
    }

    static let invalidBytes: [[UInt8]] = [
        [0x22, 0xC3, 0x28, 0x22],  // a lead byte followed by ASCII
        [0x22, 0xC3, 0x22],  // a lead byte followed by the closing quote
        [0x22, 0xC3],  // truncated at the end of the input
        [0x22, 0x80, 0x22], [0x22, 0xBF, 0x22],  // stray continuation bytes
        [0x22, 0xC0, 0x80, 0x22], [0x22, 0xC1, 0xBF, 0x22],  // overlong 2-byte forms
        [0x22, 0xE0, 0x9F, 0xBF, 0x22], [0x22, 0xF0, 0x8F, 0xBF, 0xBF, 0x22],  // overlong 3- and 4-byte forms
        [0x22, 0xED, 0xA0, 0x80, 0x22],  // a raw surrogate (unlike the \u escape, never well-formed UTF-8)
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
        [0x22, 0xE2, 0x82, 0x22], [0x22, 0xF0, 0x9F, 0x98, 0x22],  // truncated before the quote
        [0x22, 0xE2, 0x28, 0xAC, 0x22], [0x22, 0xF0, 0x9F, 0x28, 0x80, 0x22],  // interrupted
        [0x22, 0xF0, 0x9F, 0x98, 0x5C, 0x5C, 0x80, 0x22],  // interrupted by an escape (found by JSONFuzz's reference)
        [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], [0x22, 0xFE, 0x22], [0x22, 0xFF, 0x22],
        [0x22, 0x00, 0x22], [0x22, 0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0x01, 0x22],  // raw controls, NUL
        [0xEF, 0xBB, 0xBF, 0x31],  // a byte order mark is not whitespace
        [0xC3, 0xA9],  // a non-ASCII byte outside a string
        [0x31, 0x00],
    ]

    @Test(arguments: invalidBytes)
    func invalid(bytes: [UInt8]) {
        #expect(!Self.isJSONText(bytes), "\(Self.show(bytes))")
    }

    @Test func controlCharactersMustBeEscaped() {
        for byte in UInt8(0)..<0x20 {
            #expect(!Self.isJSONText([0x22, byte, 0x22]), "\(byte)")
            // The same byte past the eight-byte fast path.
            #expect(!Self.isJSONText([0x22] + Array("abcdefghijkl".utf8) + [byte] + [0x22]), "\(byte)")
        }
        #expect(Self.isJSONText([0x22, 0x20, 0x22]))
    }

    /// Each byte the eight-byte fast path must stop at, at every position of the word.
    @Test func fastPathStopsAtEverySpecialByte() {
        let stops: [(byte: UInt8, then: [UInt8], valid: Bool)] = [
            (0x22, [], true),  // the closing quote
            (0x5C, [0x6E], true),  // \n
            (0x5C, [0x78], false),  // \x
            (0x1F, [], false),
            (0xC3, [0xA9], true),
            (0xC3, [0x28], false),
        ]
        for stop in stops {
            for position in 0..<16 {
                var bytes: [UInt8] = [0x22] + Array(repeating: 0x61, count: position) + [stop.byte] + stop.then
                if stop.byte != 0x22 { bytes += Array(repeating: 0x62, count: 9) + [0x22] }
                #expect(Self.isJSONText(bytes) == stop.valid, "\(Self.show(bytes))")
                #expect(!Self.isJSONText(Array(bytes.dropLast())), "\(Self.show(bytes))")  // unterminated
            }
        }
    }

    // MARK: - valueEnd

    static let valueEnds: [(text: String, start: Int, end: Int?)] = [
        ("{\"a\":1}xyz", 0, 7), ("123,", 0, 3), ("\"ab\" ", 0, 4), ("[1,2] ", 0, 5), ("true]", 0, 4), ("null,", 0, 4),
        ("false}", 0, 5), ("-0.5e3x", 0, 6), ("01", 0, 1), ("1.5.", 0, 3), ("0x", 0, 1), ("[]]", 0, 2), ("{}}", 0, 2),
        ("[[1],[2]]", 1, 4), ("[[1],[2]]", 5, 8), ("x\"é\"y", 1, 5), ("  1", 0, nil), ("  1", 2, 3), ("", 0, nil),
        ("1", 1, nil), ("1.", 0, nil), ("1e", 0, nil), ("-", 0, nil), ("[1,]", 0, nil), ("\"ab", 0, nil), (",", 0, nil),
        ("[1 ", 0, nil), ("[1 ]", 0, 4), ("tru", 0, nil), ("nul", 0, nil), ("fals", 0, nil),
    ]

    @Test func valueEndIndices() {
        for (text, start, end) in Self.valueEnds {
            #expect(Self.valueEnd(text, from: start) == end, "\(text) from \(start)")
        }
    }

    // MARK: - Depth

    @Test func depthLimit() {
        func nested(_ depth: Int, _ open: String, _ close: String, _ inner: String = "") -> [UInt8] {
            Array((String(repeating: open, count: depth) + inner + String(repeating: close, count: depth)).utf8)
        }
        #expect(JSONScanner.maxDepth == 64)
        #expect(Self.isJSONText(nested(64, "[", "]")))
        #expect(!Self.isJSONText(nested(65, "[", "]")))
        #expect(Self.isJSONText(nested(64, "{\"k\":", "}", "1")))
        #expect(!Self.isJSONText(nested(65, "{\"k\":", "}", "1")))
        #expect(Self.isJSONText(nested(63, "{\"k\":", "}", "[]")))
        #expect(!Self.isJSONText(nested(64, "{\"k\":", "}", "[]")))
        #expect(Self.isJSONText(nested(32, "[{\"k\":", "}]", "0")))
        #expect(!Self.isJSONText(nested(32, "[{\"k\":", "}]", "[]")))
        #expect(!Self.isJSONText(nested(1000, "[", "]")))
        // Depth is nesting, not the number of containers: many siblings at depth 64 are fine.
        let deepSiblings = nested(63, "[", "]", "[1],[2],[],[3]")
        #expect(Self.isJSONText(deepSiblings))
    }

    /// The outermost container's kind, pushed 63 places up the word, decides its closing bracket.
    @Test func outermostKindSurvivesFullDepth() {
        let inner = String(repeating: "[", count: 63) + String(repeating: "]", count: 63)
        #expect(Self.isJSONText(Array(("{\"k\":" + inner + "}").utf8)))
        #expect(!Self.isJSONText(Array(("{\"k\":" + inner + "]").utf8)))
        #expect(Self.isJSONText(Array(("[" + inner + "]").utf8)))
        #expect(!Self.isJSONText(Array(("[" + inner + "}").utf8)))
    }

    // MARK: - ByteBuffer

    @Test func byteBufferReadableBytesNotConsumed() {
        var buffer = ByteBuffer(string: "xx{\"a\":[1,2]}")
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(JSONScanner.isJSONText(buffer))
        #expect(buffer.readableBytes == 11)
        buffer.moveReaderIndex(forwardBy: 1)
        #expect(!JSONScanner.isJSONText(buffer))
        #expect(!JSONScanner.isJSONText(ByteBuffer()))
    }

    // MARK: - UTF-8 inside strings, against UTF8Validator

    @Test func stringBytesAgreeWithUTF8Validator() {
        var rng = SplitMix64(seed: 0x75_7466_38)
        let pieces: [[UInt8]] = [
            [0x41], [0x7F], [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEF, 0xBF, 0xBD],
            [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], Array("abcdefghij".utf8),
        ]
        for _ in 0..<3000 {
            var content: [UInt8] = []
            for _ in 0..<Int.random(in: 0...8, using: &rng) {
                if Int.random(in: 0..<4, using: &rng) == 0 {
                    content.append(UInt8.random(in: 0x80...0xFF, using: &rng))
                } else {
                    var piece = pieces.randomElement(using: &rng)!
                    if Int.random(in: 0..<6, using: &rng) == 0 {
                        piece[Int.random(in: 0..<piece.count, using: &rng)] = UInt8.random(in: 0x80...0xFF, using: &rng)
                    }
                    if Int.random(in: 0..<8, using: &rng) == 0 { piece.removeLast() }
                    content += piece
                }
            }
            var validator = UTF8Validator()
            let expected = content.withUnsafeBytes { validator.feed($0) } && validator.isAtCharacterBoundary
            #expect(Self.isJSONText([0x22] + content + [0x22]) == expected, "\(Self.show(content))")
        }
    }

    // MARK: - Differential test against Foundation

    /// Foundation's verdict with fragments allowed (any value at the top level, as RFC 8259 allows).
    static func foundationAccepts(_ bytes: [UInt8]) -> Bool {
        (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
    }

    /// Why Foundation's verdict is not RFC 8259's for this input, or nil when the two must agree. Each rule was
    /// found by probing JSONSerialization on Linux (swift-corelibs-foundation, Swift 6.3); they are deliberately
    /// coarse (they may skip an input that would have agreed) but each is narrow enough to keep the rest honest.
    static func foundationDiffers(_ bytes: [UInt8]) -> String? {
        // Encoding detection: a NUL byte makes Foundation read UTF-16/32 ("1\0" is accepted), a BOM is skipped.
        if bytes.contains(0) { return "NUL byte" }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { return "byte order mark" }
        // Foundation refuses lone surrogate escapes; RFC 8259's grammar (and the scanner) accepts them.
        for index in bytes.indices.dropLast(2)
        where bytes[index] == 0x5C && bytes[index + 1] == 0x75 && bytes[index + 2] | 0x20 == 0x64 {
            return "\\uD... escape"
        }
        // Foundation accepts a trailing comma ("[1,]", "{\"a\":1,}"), which RFC 8259 does not; skipped even
        // inside strings, where both would agree, to keep the rule simple. The fixed cases above cover it.
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x2C {
                var next = index + 1
                while next < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) { next += 1 }
                if next < bytes.count, bytes[next] == 0x5D || bytes[next] == 0x7D { return "trailing comma" }
            }
            index += 1
        }
        // Foundation refuses numbers beyond Double's range (1e309); RFC 8259 sets no limit. With inputs kept
        // under 200 bytes, a mantissa is below 1e200, so only exponents of three or more digits can overflow.
        var digitsAfterE = -1
        for byte in bytes {
            if byte | 0x20 == 0x65 {
                digitsAfterE = 0
            } else if digitsAfterE >= 0, byte >= 0x30, byte <= 0x39 {
                digitsAfterE += 1
                if digitsAfterE >= 3 { return "large exponent" }
            } else if digitsAfterE > 0 || (byte != 0x2B && byte != 0x2D) {
                digitsAfterE = -1
            }
        }
        // Foundation's own depth limit (512) is far above the scanner's; deeper than 64 is the scanner's rule.
        if bytes.count(where: { $0 == 0x5B || $0 == 0x7B }) > JSONScanner.maxDepth { return "deep nesting" }
        return nil
    }

    /// Tokens for random inputs: structure, pieces of every production, near misses and bad bytes.
    static let alphabet: [[UInt8]] = Self.textTokens.map { Array($0.utf8) } + Self.utf8Pieces + [[0xC3, 0x28]]

    static let textTokens = [
        "{", "}", "[", "]", ",", ":", "\"", "\\", " ", "\t", "\n", "\r", "\u{0C}", "\"a\"", "\"key\"", "\"\"", "0",
        "1", "9", "-", "+", ".", "e", "E", "12", "0.5", "1e3", "true", "false", "null", "tru", "nul", "fals", "\\n",
        "\\\"", "\\/", "\\u", "\\u00e9", "\\u0041", "\\x", "\\ud83d\\ude00", "\u{01}", "\u{1F}", "\u{7F}", "a", "x",
        "/", "'", "#", "NaN",
    ]

    /// A random valid JSON text of limited size and depth, with random whitespace.
    static func randomValue(_ depth: Int, using rng: inout SplitMix64) -> [UInt8] {
        func ws() -> [UInt8] {
            let choices: [[UInt8]] = [[], [], [], [0x20], [0x0A], [0x09, 0x20], [0x0D, 0x0A]]
            return choices.randomElement(using: &rng)!
        }
        func string() -> [UInt8] {
            let parts = [
                "a", "bc", "key", " ", "é", "€", "😀", "\\n", "\\\"", "\\\\", "\\/", "\\u00e9", "\\ud83d\\ude00",
                "0123456789", "\u{7F}", "{", "]",
            ]
            var bytes: [UInt8] = [0x22]
            for _ in 0..<Int.random(in: 0...4, using: &rng) { bytes += parts.randomElement(using: &rng)!.utf8 }
            return bytes + [0x22]
        }
        let kind = Int.random(in: 0..<(depth >= 6 ? 4 : 6), using: &rng)
        switch kind {
        case 0:
            return string()
        case 1:
            var number = Int.random(in: 0..<2, using: &rng) == 0 ? "-" : ""
            number += ["0", "1", "7", "42", "1234567"].randomElement(using: &rng)!
            if Bool.random(using: &rng) { number += [".0", ".5", ".25", ".000"].randomElement(using: &rng)! }
            if Bool.random(using: &rng) { number += ["e1", "E+2", "e-10", "e05"].randomElement(using: &rng)! }
            return Array(number.utf8)
        case 2:
            return Array(["true", "false", "null"].randomElement(using: &rng)!.utf8)
        case 3:
            return Array(["[]", "{}", "[ ]", "{ }"].randomElement(using: &rng)!.utf8)
        case 4:
            var bytes: [UInt8] = [0x5B] + ws()
            for element in 0..<Int.random(in: 1...4, using: &rng) {
                if element > 0 { bytes += ws() + [0x2C] + ws() }
                bytes += randomValue(depth + 1, using: &rng)
            }
            return bytes + ws() + [0x5D]
        default:
            var bytes: [UInt8] = [0x7B] + ws()
            for member in 0..<Int.random(in: 1...4, using: &rng) {
                if member > 0 { bytes += ws() + [0x2C] + ws() }
                bytes += string() + ws() + [0x3A] + ws() + randomValue(depth + 1, using: &rng)
            }
            return bytes + ws() + [0x7D]
        }
    }

    /// Well-formed and ill-formed UTF-8 for inside strings (Foundation checks strings' UTF-8 as RFC 8259 does).
    static let utf8Pieces: [[UInt8]] = [
        [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], [0xED, 0x9F, 0xBF],
        [0xEE, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x9F, 0xBF],
        [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xC3], [0xE2, 0x82],
        [0xF0, 0x9F, 0x98], [0x80], [0xBF], [0xFF],
    ]

    /// One random edit: delete, insert, replace, duplicate, truncate, swap a bracket's kind, or put a UTF-8 piece
    /// into a string.
    static func mutate(_ bytes: [UInt8], using rng: inout SplitMix64) -> [UInt8] {
        var bytes = bytes
        let index = Int.random(in: 0...bytes.count, using: &rng)
        switch Int.random(in: 0..<7, using: &rng) {
        case 0:
            if index < bytes.count { bytes.remove(at: index) }
        case 1:
            bytes.insert(contentsOf: alphabet.randomElement(using: &rng)!, at: index)
        case 2:
            if index < bytes.count { bytes.replaceSubrange(index...index, with: alphabet.randomElement(using: &rng)!) }
        case 3:
            let end = Int.random(in: index...min(bytes.count, index + 8), using: &rng)
            bytes.insert(contentsOf: bytes[index..<end], at: end)
        case 4:
            bytes.removeLast(bytes.count - index)
        case 5:
            let flips: [UInt8: UInt8] = [0x5B: 0x7B, 0x7B: 0x5B, 0x5D: 0x7D, 0x7D: 0x5D]
            if let at = bytes.indices.filter({ flips[bytes[$0]] != nil }).randomElement(using: &rng) {
                bytes[at] = flips[bytes[at]]!
            }
        default:
            if let at = bytes.indices.filter({ bytes[$0] == 0x22 }).randomElement(using: &rng) {
                bytes.insert(contentsOf: Self.utf8Pieces.randomElement(using: &rng)!, at: at + 1)
            }
        }
        return bytes
    }

    @Test func agreesWithFoundation() {
        var rng = SplitMix64(seed: 8259)
        var inputs: [[UInt8]] = []
        for _ in 0..<3000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 1...10, using: &rng) { bytes += Self.alphabet.randomElement(using: &rng)! }
            inputs.append(bytes)
        }
        for _ in 0..<3000 {
            var bytes = Self.randomValue(0, using: &rng)
            for _ in 0..<Int.random(in: 0...3, using: &rng) { bytes = Self.mutate(bytes, using: &rng) }
            inputs.append(bytes)
        }

        var compared = 0
        var accepted = 0
        var mismatches: [String] = []
        for bytes in inputs where bytes.count < 200 && Self.foundationDiffers(bytes) == nil {
            let scanner = Self.isJSONText(bytes)
            let foundation = Self.foundationAccepts(bytes)
            if scanner != foundation {
                mismatches.append("scanner \(scanner), Foundation \(foundation): \(Self.show(bytes))")
            }
            compared += 1
            if scanner { accepted += 1 }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(10))")
        // The comparison must mean something: most inputs compared, with both verdicts well represented.
        #expect(compared > 5000, "only \(compared) inputs compared")
        #expect(accepted > 1000 && compared - accepted > 2000, "\(accepted) of \(compared) accepted")
    }
}
