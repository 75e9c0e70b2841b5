/// A cursor over the bytes of a JSON text, with the strict pieces the control-message parsers share: whitespace,
/// single bytes, and strings with every escape decoded.
struct JSONReader {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Whether every byte has been read.
    var isAtEnd: Bool { self.index == self.bytes.count }

    // MARK: - Strings

    /// Reads a JSON string starting at its opening quote, decoding every escape including surrogate pairs.
    mutating func parseString() throws(ControlMessageError) -> String {
        self.index += 1  // opening quote
        var output: [UInt8] = []
        while true {
            guard let byte = self.peek() else { throw self.error("unterminated string") }
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""):
                // Raw bytes came from the caller; do not trust them to be UTF-8.
                var validator = UTF8Validator()
                guard output.withUnsafeBytes({ validator.feed($0) }), validator.isAtCharacterBoundary else {
                    throw ControlMessageError(reason: "string is not valid UTF-8")
                }
                return String(decoding: output, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try self.parseEscape(into: &output)
            case 0x00..<0x20:
                throw ControlMessageError(reason: "unescaped control character in string")
            default:
                output.append(byte)
            }
        }
    }

    private mutating func parseEscape(into output: inout [UInt8]) throws(ControlMessageError) {
        guard let byte = self.peek() else { throw self.error("unterminated string") }
        self.index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(byte)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try self.parseHex4()
            switch scalar {
            case 0xD800...0xDBFF:
                guard self.consume(UInt8(ascii: "\\")), self.consume(UInt8(ascii: "u")) else {
                    throw ControlMessageError(reason: "unpaired surrogate in \\u escape")
                }
                let low = try self.parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw ControlMessageError(reason: "unpaired surrogate in \\u escape")
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            case 0xDC00...0xDFFF:
                throw ControlMessageError(reason: "unpaired surrogate in \\u escape")
            default:
                break
            }
            guard let unicodeScalar = Unicode.Scalar(scalar) else {
                fatalError("Internal inconsistency: \(scalar) is not a scalar")
            }
            UTF8.encode(unicodeScalar) { output.append($0) }
        default:
            throw ControlMessageError(reason: "invalid escape in string")
        }
    }

    private mutating func parseHex4() throws(ControlMessageError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = self.peek() else { throw self.error("unterminated string") }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw ControlMessageError(reason: "invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            self.index += 1
        }
        return value
    }

    // MARK: - Bytes

    func peek() -> UInt8? {
        self.index < self.bytes.count ? self.bytes[self.index] : nil
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard self.peek() == byte else { return false }
        self.index += 1
        return true
    }

    mutating func skipWhitespace() {
        while let byte = self.peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            self.index += 1
        }
    }

    /// Reports running out of input as truncation, which is what it almost always is.
    func error(_ reason: String) -> ControlMessageError {
        ControlMessageError(reason: self.index < self.bytes.count ? reason : "truncated JSON")
    }
}

extension JSONReader {
    /// Consumes `literal` (ASCII) if the input continues with it.
    mutating func consume(literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard self.bytes.count - self.index >= count else { return false }
        for offset in 0..<count where self.bytes[self.index + offset] != literal.utf8Start[offset] { return false }
        self.index += count
        return true
    }

    /// A JSON number that is a non-negative integer fitting in 64 bits (no sign, fraction or exponent), or nil.
    mutating func parseUnsignedInteger() -> UInt64? {
        let start = self.index
        var value: UInt64 = 0
        while let byte = self.peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            let (shifted, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = shifted.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflowA, !overflowB else { return nil }
            value = sum
            self.index += 1
        }
        let digits = self.index - start
        // RFC 8259: no leading zeros; and no fraction or exponent here.
        guard digits > 0, digits == 1 || self.bytes[start] != UInt8(ascii: "0") else { return nil }
        if let next = self.peek(), next == UInt8(ascii: ".") || next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
            return nil
        }
        return value
    }
}

extension JSONReader {
    /// Reads one whole JSON object as the only content of the input (whitespace around it allowed): `member` reads
    /// each member's value, positioned at it, with its key.
    mutating func readObject(
        _ member: (_ key: String, _ reader: inout JSONReader) throws(ControlMessageError) -> Void
    ) throws(ControlMessageError) {
        self.skipWhitespace()
        guard self.consume(UInt8(ascii: "{")) else { throw self.error("expected a JSON object") }
        self.skipWhitespace()
        if !self.consume(UInt8(ascii: "}")) {
            while true {
                self.skipWhitespace()
                guard self.peek() == UInt8(ascii: "\"") else { throw self.error("expected a string key") }
                let key = try self.parseString()
                self.skipWhitespace()
                guard self.consume(UInt8(ascii: ":")) else { throw self.error("expected ':' after a key") }
                self.skipWhitespace()
                try member(key, &self)
                self.skipWhitespace()
                if self.consume(UInt8(ascii: ",")) { continue }
                if self.consume(UInt8(ascii: "}")) { break }
                throw self.error("expected ',' or '}'")
            }
        }
        self.skipWhitespace()
        guard self.isAtEnd else { throw ControlMessageError(reason: "unexpected characters after the JSON object") }
    }
}
