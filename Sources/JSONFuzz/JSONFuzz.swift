import ChorusCore
import FuzzEntry

// A libFuzzer target for `JSONScanner` (see scripts/fuzz.sh). The input is a candidate JSON text.
//
// - The scanner never traps, and `isJSONText` answers exactly what a plain recursive-descent reference written
//   from RFC 8259 answers (below; it validates UTF-8 with the standard library, not with the scanner's ranges).
// - `valueEnd(in:from:)` agrees with the reference at offset 0 and at one data-derived offset, and with
//   `isJSONText`: the text is valid exactly when a value starts after the leading whitespace and only whitespace
//   follows it, so a valid text without surrounding whitespace has `valueEnd == count`. The value it delimits is
//   itself a JSON text that `valueEnd` delimits the same way.
//
// Built with `-sanitize=fuzzer -DCHORUS_FUZZER` the entry point hands over to libFuzzer. In a plain build it
// replays the files named on the command line: `swift run JSONFuzz Fuzz/json-corpus/*`.

@_cdecl("JSONFuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzTarget("JSONFuzz", argc, argv) { JSONProperty.check($0) }
}

/// Stops the run with a message libFuzzer reports as a crash.
func violated(_ message: @autoclosure () -> String) -> Never {
    fatalError("JSONFuzz property violated: \(message())")
}

enum JSONProperty {
    static func check(_ bytes: UnsafeRawBufferPointer) {
        let input = Array(bytes)
        let isText = JSONScanner.isJSONText(bytes)
        var reference = ReferenceParser(input)
        guard isText == reference.isJSONText() else {
            violated("isJSONText says \(isText), the reference \(!isText) for \(input)")
        }

        let leading = input.prefix { ReferenceParser.isWhitespace($0) }.count
        let end = JSONScanner.valueEnd(in: bytes, from: leading)
        let trailingOnly = end.map { input[$0...].allSatisfy(ReferenceParser.isWhitespace) } ?? false
        guard isText == trailingOnly else {
            violated("isJSONText says \(isText), valueEnd from \(leading) \(String(describing: end)) for \(input)")
        }
        if isText, leading == 0, input.last.map({ !ReferenceParser.isWhitespace($0) }) ?? false {
            guard end == input.count else { violated("valid text of \(input.count) bytes, valueEnd \(end!)") }
        }

        let other = input.isEmpty ? 0 : Int(input[0]) % input.count
        for start in Set([0, leading, other]) {
            let end = JSONScanner.valueEnd(in: bytes, from: start)
            var reference = ReferenceParser(input)
            reference.index = start
            let expected = reference.value(depth: 0) ? reference.index : nil
            guard end == expected else {
                violated(
                    "valueEnd from \(start) is \(String(describing: end)), reference \(String(describing: expected))"
                )
            }
            if let end {
                let value = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                guard JSONScanner.isJSONText(value), JSONScanner.valueEnd(in: value, from: 0) == end - start else {
                    violated("the value at \(start)..<\(end) is not a JSON text by itself in \(input)")
                }
            }
        }
    }
}

/// A deliberately plain recursive-descent JSON reader written from RFC 8259's ABNF, to check the scanner against.
/// Nesting is limited like the scanner's; strings' raw bytes are checked with the standard library's UTF-8.
struct ReferenceParser {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    mutating func isJSONText() -> Bool {
        self.skipWhitespace()
        guard self.value(depth: 0) else { return false }
        self.skipWhitespace()
        return self.index == self.bytes.count
    }

    var current: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

    mutating func skipWhitespace() {
        while let byte = self.current, Self.isWhitespace(byte) { self.index += 1 }
    }

    mutating func take(_ literal: String) -> Bool {
        let literal = Array(literal.utf8)
        guard self.bytes.count - self.index >= literal.count,
            Array(self.bytes[self.index..<(self.index + literal.count)]) == literal
        else { return false }
        self.index += literal.count
        return true
    }

    /// Reads one value at `index` (no whitespace skipped first); on success `index` is just past it.
    mutating func value(depth: Int) -> Bool {
        switch self.current {
        case UInt8(ascii: "{"):
            guard depth < JSONScanner.maxDepth else { return false }
            self.index += 1
            self.skipWhitespace()
            if self.take("}") { return true }
            while true {
                guard self.string() else { return false }
                self.skipWhitespace()
                guard self.take(":") else { return false }
                self.skipWhitespace()
                guard self.value(depth: depth + 1) else { return false }
                self.skipWhitespace()
                if self.take("}") { return true }
                guard self.take(",") else { return false }
                self.skipWhitespace()
            }
        case UInt8(ascii: "["):
            guard depth < JSONScanner.maxDepth else { return false }
            self.index += 1
            self.skipWhitespace()
            if self.take("]") { return true }
            while true {
                guard self.value(depth: depth + 1) else { return false }
                self.skipWhitespace()
                if self.take("]") { return true }
                guard self.take(",") else { return false }
                self.skipWhitespace()
            }
        case UInt8(ascii: "\""):
            return self.string()
        case UInt8(ascii: "t"):
            return self.take("true")
        case UInt8(ascii: "f"):
            return self.take("false")
        case UInt8(ascii: "n"):
            return self.take("null")
        default:
            return self.number()
        }
    }

    mutating func digits() -> Int {
        let start = self.index
        while let byte = self.current, (0x30...0x39).contains(byte) { self.index += 1 }
        return self.index - start
    }

    mutating func number() -> Bool {
        _ = self.take("-")
        if !self.take("0") {
            guard let byte = self.current, (0x31...0x39).contains(byte) else { return false }
            _ = self.digits()
        }
        if self.take(".") {
            guard self.digits() > 0 else { return false }
        }
        if self.take("e") || self.take("E") {
            _ = self.take("+") || self.take("-")
            guard self.digits() > 0 else { return false }
        }
        return true
    }

    mutating func string() -> Bool {
        guard self.take("\"") else { return false }
        // Checked as UTF-8 as sent, escapes included: a sequence an escape interrupts is ill-formed.
        let start = self.index
        while let byte = self.current {
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: self.bytes[start..<(self.index - 1)], as: UTF8.self) != nil
            case UInt8(ascii: "\\"):
                guard let escape = self.current else { return false }
                self.index += 1
                if escape == UInt8(ascii: "u") {
                    for _ in 0..<4 {
                        guard let hex = self.current, hex.isHexDigit else { return false }
                        self.index += 1
                    }
                } else {
                    guard Array("\"\\/bfnrt".utf8).contains(escape) else { return false }
                }
            case 0x00..<0x20:
                return false
            default:
                break
            }
        }
        return false
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}
