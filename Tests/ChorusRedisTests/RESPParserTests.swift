import ChorusRedis
import NIOCore
import Testing

@Suite("RESP parser")
struct RESPParserTests {
    static func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// Every reply type once, as Redis writes it, with the value it must parse to.
    static let everyType: [(String, RESPValue)] = [
        ("+OK\r\n", .simpleString(bytes("OK"))),
        ("+\r\n", .simpleString(bytes(""))),
        ("-ERR unknown command\r\n", .error(bytes("ERR unknown command"))),
        (":0\r\n", .integer(0)),
        (":-42\r\n", .integer(-42)),
        (":9223372036854775807\r\n", .integer(.max)),
        (":-9223372036854775808\r\n", .integer(.min)),
        ("$5\r\nhello\r\n", .bulkString(bytes("hello"))),
        ("$0\r\n\r\n", .bulkString(bytes(""))),
        ("$4\r\na\r\nb\r\n", .bulkString(bytes("a\r\nb"))),
        ("$-1\r\n", .bulkString(nil)),
        ("*0\r\n", .array([])),
        ("*-1\r\n", .array(nil)),
        (
            "*3\r\n$7\r\nmessage\r\n$8\r\nchorus:c\r\n$2\r\nhi\r\n",
            .array([.bulkString(bytes("message")), .bulkString(bytes("chorus:c")), .bulkString(bytes("hi"))])
        ),
        ("*2\r\n*1\r\n:1\r\n$-1\r\n", .array([.array([.integer(1)]), .bulkString(nil)])),
        ("_\r\n", .null),
        ("#t\r\n", .boolean(true)),
        ("#f\r\n", .boolean(false)),
        (",3.25\r\n", .double(3.25)),
        (",-1e3\r\n", .double(-1000)),
        (",inf\r\n", .double(.infinity)),
        (",-inf\r\n", .double(-.infinity)),
        ("(3492890328409238509324850943850943825024385\r\n", .bigNumber(bytes("3492890328409238509324850943850943825024385"))),
        ("!9\r\nERR oops!\r\n", .error(bytes("ERR oops!"))),
        ("=8\r\ntxt:hi\r\n\r\n", .verbatimString(format: "txt", text: bytes("hi\r\n"))),
        ("%1\r\n+key\r\n:1\r\n", .map([.simpleString(bytes("key")), .integer(1)])),
        ("~2\r\n+a\r\n+b\r\n", .set([.simpleString(bytes("a")), .simpleString(bytes("b"))])),
        (
            ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n",
            .push([.bulkString(bytes("message")), .bulkString(bytes("c")), .bulkString(bytes("hi"))])
        ),
        // An attribute is skipped; the value it describes is returned.
        ("|1\r\n+ttl\r\n:3\r\n:7\r\n", .integer(7)),
    ]

    /// Parses everything `buffer` holds, leaving an incomplete tail in it.
    static func drain(_ parser: RESPParser, _ buffer: inout ByteBuffer) throws -> [RESPValue] {
        var values: [RESPValue] = []
        while case .value(let value) = try parser.next(from: &buffer) { values.append(value) }
        return values
    }

    @Test("every reply type parses whole, and consumes exactly its bytes")
    func everyTypeWhole() throws {
        let parser = RESPParser()
        for (wire, expected) in Self.everyType {
            var buffer = Self.bytes(wire + "+next\r\n")
            #expect(try parser.next(from: &buffer) == .value(expected), "\(wire.debugDescription)")
            #expect(try parser.next(from: &buffer) == .value(.simpleString(Self.bytes("next"))))
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test("NaN parses as a double")
    func nan() throws {
        var buffer = Self.bytes(",nan\r\n")
        guard case .value(.double(let value)) = try RESPParser().next(from: &buffer) else {
            Issue.record("not a double")
            return
        }
        #expect(value.isNaN)
    }

    @Test("a stream of every type split at every byte boundary gives the same values, and nothing early")
    func splitAtEveryBoundary() throws {
        let parser = RESPParser()
        let wire = Array(Self.everyType.map(\.0).joined().utf8)
        let expected = Self.everyType.map(\.1)
        for split in 0...wire.count {
            var buffer = ByteBuffer(bytes: wire[..<split])
            var values = try Self.drain(parser, &buffer)
            // Only complete values may come out of the first part.
            #expect(values == Array(expected.prefix(values.count)), "split at \(split)")
            buffer.writeBytes(wire[split...])
            values += try Self.drain(parser, &buffer)
            #expect(values == expected, "split at \(split)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test("fed one byte at a time, each value appears exactly when its last byte arrives")
    func byteByByte() throws {
        let parser = RESPParser()
        for (wire, expected) in Self.everyType {
            let bytes = Array(wire.utf8)
            var buffer = ByteBuffer()
            for (index, byte) in bytes.enumerated() {
                buffer.writeInteger(byte)
                let before = buffer.readableBytes
                let result = try parser.next(from: &buffer)
                if index == bytes.count - 1 {
                    #expect(result == .value(expected), "\(wire.debugDescription)")
                } else {
                    #expect(result == .needMoreData, "\(wire.debugDescription) at \(index)")
                    #expect(buffer.readableBytes == before, "needMoreData must not consume")
                }
            }
        }
    }

    @Test(
        "malformed input is rejected with a typed error",
        arguments: [
            ("?x\r\n", RESPParseError.unknownType(UInt8(ascii: "?"))),
            ("\r\n", .unknownType(13)),
            ("+OK\rX", .missingLineFeed),
            (":12a\r\n", .malformedInteger),
            (":\r\n", .malformedInteger),
            (":-\r\n", .malformedInteger),
            (":+1\r\n", .malformedInteger),
            (": 1\r\n", .malformedInteger),
            (":9223372036854775808\r\n", .malformedInteger),
            (":-9223372036854775809\r\n", .malformedInteger),
            (":123456789012345678901\r\n", .malformedInteger),
            ("$-2\r\n", .invalidLength(-2)),
            ("!-1\r\n", .invalidLength(-1)),
            ("~-1\r\n", .invalidLength(-1)),
            ("$3\r\nabcd\r\n", .missingLineFeed),
            ("$3\r\nabc\n\r", .missingLineFeed),
            ("$?\r\n", .malformedInteger),
            ("#x\r\n", .malformedValue("boolean must be t or f")),
            ("_x\r\n", .malformedValue("null carries no data")),
            (",1.5x\r\n", .malformedValue("double")),
            (",\r\n", .malformedValue("double")),
            ("(12a\r\n", .malformedValue("big number")),
            ("=3\r\ntxt\r\n", .malformedValue("verbatim string needs a format such as txt:")),
            ("=5\r\nt\u{7F}t:a\r\n", .malformedValue("verbatim string needs a format such as txt:")),
            ("*2\r\n:1\r\n?\r\n", .unknownType(UInt8(ascii: "?"))),
        ]
    )
    func malformed(wire: String, error: RESPParseError) throws {
        var buffer = Self.bytes(wire)
        #expect(throws: error) { try RESPParser().next(from: &buffer) }
    }

    @Test("sizes and nesting are bounded before anything is buffered or reserved")
    func limits() throws {
        var limits = RESPParserLimits()
        limits.maxBulkBytes = 10
        limits.maxElements = 4
        limits.maxDepth = 3
        limits.maxLineBytes = 8
        let parser = RESPParser(limits: limits)
        func check(_ wire: String, _ error: RESPParseError) {
            var buffer = Self.bytes(wire)
            #expect(throws: error, "\(wire.debugDescription)") { try parser.next(from: &buffer) }
        }
        check("$11\r\n", .bulkTooLarge(11))
        check("$9223372036854775807\r\n", .lineTooLong)  // the length line is longer than the 8-byte limit
        check("*5\r\n", .aggregateTooLarge(5))
        check("%3\r\n", .aggregateTooLarge(3))  // 3 pairs = 6 elements
        check("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", .tooDeep)
        check("+123456789", .lineTooLong)
        // Within the limits the same shapes parse.
        var ok = Self.bytes("$10\r\n0123456789\r\n*1\r\n*1\r\n*1\r\n:1\r\n+12345678\r\n")
        #expect(try Self.drain(parser, &ok).count == 3)
        // A line of exactly the limit, still waiting for its CRLF, waits rather than failing.
        var waiting = Self.bytes("+12345678")
        #expect(try parser.next(from: &waiting) == .needMoreData)
    }

    @Test("a huge declared bulk length is not buffered for: it waits for data, bounded by the limit")
    func hugeDeclaredLengthWaits() throws {
        var buffer = Self.bytes("$1000000\r\nabc")
        #expect(try RESPParser().next(from: &buffer) == .needMoreData)
        #expect(buffer.readableBytes == 13)
    }

    @Test("commands encode as arrays of bulk strings that the parser reads back")
    func commandEncoding() throws {
        let command = RESPCommand("PUBLISH", [Self.bytes("chorus:news"), ByteBuffer(bytes: [0xC1, 0x02, 0x00, 0x0D, 0x0A])])
        #expect(String(buffer: command.bytes).hasPrefix("*3\r\n$7\r\nPUBLISH\r\n$11\r\nchorus:news\r\n$5\r\n"))
        var bytes = command.bytes
        let parsed = try RESPParser().next(from: &bytes)
        #expect(
            parsed
                == .value(
                    .array([
                        .bulkString(Self.bytes("PUBLISH")), .bulkString(Self.bytes("chorus:news")),
                        .bulkString(ByteBuffer(bytes: [0xC1, 0x02, 0x00, 0x0D, 0x0A])),
                    ])
                )
        )
    }
}
