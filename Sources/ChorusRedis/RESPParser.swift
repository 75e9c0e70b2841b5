import NIOCore

/// A pure RESP2/RESP3 parser over a `ByteBuffer`: no I/O, no state between calls, no allocation it is not
/// told to make (sizes and nesting are bounded by `limits` before anything is reserved).
///
/// Feed it the bytes received so far; it returns one complete value and moves the reader index past it, or
/// `.needMoreData` and leaves the buffer untouched, so the caller appends the next read and asks again. Bytes
/// that can never become valid RESP throw a `RESPParseError`.
public struct RESPParser: Sendable {
    /// The outcome of one `next(from:)`.
    public enum Result: Equatable, Sendable {
        /// One complete value, consumed from the buffer.
        case value(RESPValue)
        /// The buffer holds only the beginning of a value (possibly nothing); nothing was consumed.
        case needMoreData
    }

    /// The bounds applied to every value.
    public var limits: RESPParserLimits

    public init(limits: RESPParserLimits = RESPParserLimits()) {
        self.limits = limits
    }

    /// Parses the value at the front of `buffer`.
    public func next(from buffer: inout ByteBuffer) throws(RESPParseError) -> Result {
        var cursor = buffer.readerIndex
        guard let value = try self.value(in: buffer, at: &cursor, depth: 0) else { return .needMoreData }
        buffer.moveReaderIndex(to: cursor)
        return .value(value)
    }

    // MARK: Values

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    /// The value starting at `cursor`, advancing it past the value; nil when the bytes run out first.
    private func value(in b: ByteBuffer, at cursor: inout Int, depth: Int) throws(RESPParseError) -> RESPValue? {
        guard cursor < b.writerIndex else { return nil }
        let type = b.getInteger(at: cursor, as: UInt8.self)!
        var next = cursor + 1
        let value: RESPValue
        switch type {
        case UInt8(ascii: "+"):
            guard let line = try self.line(in: b, at: &next) else { return nil }
            value = .simpleString(b.getSlice(at: line.lowerBound, length: line.count)!)
        case UInt8(ascii: "-"):
            guard let line = try self.line(in: b, at: &next) else { return nil }
            value = .error(b.getSlice(at: line.lowerBound, length: line.count)!)
        case UInt8(ascii: ":"):
            guard let line = try self.line(in: b, at: &next) else { return nil }
            value = .integer(try Self.integer(in: b, line))
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            guard let line = try self.line(in: b, at: &next) else { return nil }
            let length = try Self.integer(in: b, line)
            if length == -1 && type == UInt8(ascii: "$") {
                value = .bulkString(nil)
                break
            }
            guard length >= 0 else { throw .invalidLength(length) }
            guard length <= self.limits.maxBulkBytes else { throw .bulkTooLarge(length) }
            let count = Int(length)
            guard b.writerIndex - next >= count + 2 else { return nil }
            guard b.getInteger(at: next + count, as: UInt8.self) == Self.cr,
                b.getInteger(at: next + count + 1, as: UInt8.self) == Self.lf
            else { throw .missingLineFeed }
            let payload = b.getSlice(at: next, length: count)!
            next += count + 2
            switch type {
            case UInt8(ascii: "$"): value = .bulkString(payload)
            case UInt8(ascii: "!"): value = .error(payload)
            default: value = try Self.verbatim(payload)
            }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            guard let line = try self.line(in: b, at: &next) else { return nil }
            let count = try Self.integer(in: b, line)
            if count == -1 && type == UInt8(ascii: "*") {
                value = .array(nil)
                break
            }
            guard count >= 0 else { throw .invalidLength(count) }
            let isPairs = type == UInt8(ascii: "%") || type == UInt8(ascii: "|")
            let (elementCount, overflow) = count.multipliedReportingOverflow(by: isPairs ? 2 : 1)
            guard !overflow, elementCount <= self.limits.maxElements else { throw .aggregateTooLarge(count) }
            guard depth < self.limits.maxDepth else { throw .tooDeep }
            var elements: [RESPValue] = []
            // Reserve for what is plausibly there, never for what the header claims.
            elements.reserveCapacity(Int(min(elementCount, 16)))
            for _ in 0..<Int(elementCount) {
                guard let element = try self.value(in: b, at: &next, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            switch type {
            case UInt8(ascii: "*"): value = .array(elements)
            case UInt8(ascii: "~"): value = .set(elements)
            case UInt8(ascii: ">"): value = .push(elements)
            case UInt8(ascii: "%"): value = .map(elements)
            default:
                // An attribute describes the value that follows it; Chorus has no use for it, so it is skipped.
                guard let described = try self.value(in: b, at: &next, depth: depth) else { return nil }
                value = described
            }
        case UInt8(ascii: "_"):
            guard let line = try self.line(in: b, at: &next) else { return nil }
            guard line.isEmpty else { throw .malformedValue("null carries no data") }
            value = .null
        case UInt8(ascii: "#"):
            guard let line = try self.line(in: b, at: &next) else { return nil }
            switch b.getString(at: line.lowerBound, length: line.count) ?? "" {
            case "t": value = .boolean(true)
            case "f": value = .boolean(false)
            default: throw .malformedValue("boolean must be t or f")
            }
        case UInt8(ascii: ","):
            guard let line = try self.line(in: b, at: &next) else { return nil }
            value = .double(try Self.double(b.getString(at: line.lowerBound, length: line.count) ?? ""))
        case UInt8(ascii: "("):
            guard let line = try self.line(in: b, at: &next) else { return nil }
            let digits = b.getSlice(at: line.lowerBound, length: line.count)!
            guard Self.isBigNumber(digits.readableBytesView) else { throw .malformedValue("big number") }
            value = .bigNumber(digits)
        default:
            throw .unknownType(type)
        }
        cursor = next
        return value
    }

    /// The range of the line starting at `cursor` (without its CRLF), advancing `cursor` past the CRLF.
    private func line(in b: ByteBuffer, at cursor: inout Int) throws(RESPParseError) -> Range<Int>? {
        let start = cursor
        let available = b.writerIndex - start
        // The CR may sit at most maxLineBytes after the start.
        let searched = min(available, self.limits.maxLineBytes + 1)
        let offset = b.withUnsafeReadableBytes { raw -> Int? in
            let base = start - b.readerIndex
            for k in 0..<searched where raw[base + k] == Self.cr { return k }
            return nil
        }
        guard let offset else {
            if available > self.limits.maxLineBytes { throw .lineTooLong }
            return nil
        }
        guard offset + 1 < available else { return nil }
        guard b.getInteger(at: start + offset + 1, as: UInt8.self) == Self.lf else { throw .missingLineFeed }
        cursor = start + offset + 2
        return start..<(start + offset)
    }

    /// A plain signed decimal: an optional `-` then 1 to 19 digits, no spaces, no `+`, no overflow.
    private static func integer(in b: ByteBuffer, _ range: Range<Int>) throws(RESPParseError) -> Int64 {
        guard range.count <= 20 else { throw .malformedInteger }
        var index = range.lowerBound
        let negative = index < range.upperBound && b.getInteger(at: index, as: UInt8.self) == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < range.upperBound else { throw .malformedInteger }
        var result: Int64 = 0
        while index < range.upperBound {
            let digit = Int64(b.getInteger(at: index, as: UInt8.self)!) - Int64(UInt8(ascii: "0"))
            guard (0...9).contains(digit) else { throw .malformedInteger }
            // Accumulate downwards so Int64.min parses too.
            let (times10, o1) = result.multipliedReportingOverflow(by: 10)
            let (next, o2) = times10.subtractingReportingOverflow(digit)
            guard !o1, !o2 else { throw .malformedInteger }
            result = next
            index += 1
        }
        if negative { return result }
        guard result != .min else { throw .malformedInteger }
        return -result
    }

    private static func double(_ text: String) throws(RESPParseError) -> Double {
        switch text {
        case "inf": return .infinity
        case "-inf": return -.infinity
        case "nan": return .nan
        default:
            let allowed = text.utf8.allSatisfy { byte in
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || [UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")]
                        .contains(byte)
            }
            guard allowed, let value = Double(text), value.isFinite else { throw .malformedValue("double") }
            return value
        }
    }

    private static func isBigNumber(_ bytes: ByteBufferView) -> Bool {
        let digits = bytes.first == UInt8(ascii: "-") ? bytes.dropFirst() : bytes[...]
        return !digits.isEmpty && digits.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// `txt:…`: three printable ASCII format characters, a colon, the text.
    private static func verbatim(_ payload: ByteBuffer) throws(RESPParseError) -> RESPValue {
        guard payload.readableBytes >= 4,
            payload.getInteger(at: payload.readerIndex + 3, as: UInt8.self) == UInt8(ascii: ":"),
            payload.readableBytesView.prefix(3).allSatisfy({ (0x21...0x7E).contains($0) }),
            let format = payload.getString(at: payload.readerIndex, length: 3)
        else { throw .malformedValue("verbatim string needs a format such as txt:") }
        return .verbatimString(
            format: format,
            text: payload.getSlice(at: payload.readerIndex + 4, length: payload.readableBytes - 4)!
        )
    }
}
