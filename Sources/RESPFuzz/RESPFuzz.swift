import ChorusRedis
import FuzzEntry
import NIOCore

// A libFuzzer target for the RESP parser (see scripts/fuzz.sh, which runs it after FrameFuzz).
//
// Input layout: byte 0 picks where the stream is split in two, byte 1 the parser's limits, the rest is what a
// Redis server sent. Each input is parsed three ways (whole, in two pieces, byte by byte) and all three must
// give the same values and end the same way (needing more data, or the same error). Every value must survive
// re-encoding: written back as RESP and parsed again, it must be equal. The parser must never trap, and a
// needMoreData must never consume input.
//
// Built with `-sanitize=fuzzer -DCHORUS_FUZZER` the entry point hands over to libFuzzer; a plain build replays
// the files named on the command line: `swift run RESPFuzz Fuzz/resp-corpus/*`.

@_cdecl("RESPFuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzTarget("RESPFuzz", argc, argv) { fuzzOneInput($0) }
}

func fuzzOneInput(_ bytes: UnsafeRawBufferPointer) {
    let input = Array(bytes)
    guard input.count >= 2 else { return }
    var limits = RESPParserLimits()
    // Small limits half the time, so the bounds themselves get exercised.
    if input[1] & 1 == 1 {
        limits.maxBulkBytes = Int64(input[1] >> 1)
        limits.maxElements = Int64(input[1] >> 3) + 1
        limits.maxDepth = Int(input[1] >> 5) + 1
        limits.maxLineBytes = Int(input[1] >> 2) + 1
    }
    let parser = RESPParser(limits: limits)
    let stream = Array(input[2...])
    let split = stream.isEmpty ? 0 : Int(input[0]) % (stream.count + 1)

    let whole = run(parser, pieces: [stream[...]])
    let twoPieces = run(parser, pieces: [stream[..<split], stream[split...]])
    let byteByByte = run(parser, pieces: stream.indices.map { stream[$0...$0] })
    guard whole == twoPieces else { violated("split at \(split): \(twoPieces) != whole \(whole)") }
    guard whole == byteByByte else { violated("byte by byte: \(byteByByte) != whole \(whole)") }

    for value in whole.values {
        var encoded = ByteBuffer()
        encode(value, into: &encoded)
        var generous = RESPParserLimits()
        generous.maxLineBytes = 1 << 20
        guard case .value(let again)? = try? RESPParser(limits: generous).next(from: &encoded), same(again, value),
            encoded.readableBytes == 0
        else { violated("\(value) does not survive re-encoding") }
    }
}

/// What parsing a stream produced: its values, then how it stopped.
struct Outcome: Equatable, CustomStringConvertible {
    var values: [RESPValue] = []
    var error: RESPParseError?

    static func == (a: Outcome, b: Outcome) -> Bool {
        a.error == b.error && a.values.count == b.values.count && zip(a.values, b.values).allSatisfy(same)
    }

    var description: String { "\(self.values) then \(self.error.map { "\($0)" } ?? "needMoreData")" }
}

/// Feeds `pieces` one after the other, parsing after each, as a connection would.
func run(_ parser: RESPParser, pieces: [ArraySlice<UInt8>]) -> Outcome {
    var outcome = Outcome()
    var buffer = ByteBuffer()
    for piece in pieces {
        buffer.writeBytes(piece)
        while true {
            let before = buffer.readableBytes
            do {
                switch try parser.next(from: &buffer) {
                case .value(let value):
                    guard buffer.readableBytes < before else { violated("a value consumed nothing") }
                    outcome.values.append(value)
                case .needMoreData:
                    guard buffer.readableBytes == before else { violated("needMoreData consumed input") }
                    break
                }
                if buffer.readableBytes == before { break }
            } catch {
                outcome.error = error
                return outcome
            }
        }
    }
    return outcome
}

/// Equality that treats NaN as equal to NaN (the parser's doubles may be NaN).
func same(_ a: RESPValue, _ b: RESPValue) -> Bool {
    switch (a, b) {
    case (.double(let x), .double(let y)): return x == y || (x.isNaN && y.isNaN)
    case (.array(let x?), .array(let y?)), (.set(let x), .set(let y)), (.push(let x), .push(let y)),
        (.map(let x), .map(let y)):
        return x.count == y.count && zip(x, y).allSatisfy(same)
    default: return a == b
    }
}

/// Writes `value` back as RESP (the reference encoding each parsed value must round-trip through).
func encode(_ value: RESPValue, into out: inout ByteBuffer) {
    func line(_ type: String, _ text: String) { out.writeString("\(type)\(text)\r\n") }
    func blob(_ type: String, _ bytes: ByteBuffer) {
        out.writeString("\(type)\(bytes.readableBytes)\r\n")
        out.writeImmutableBuffer(bytes)
        out.writeString("\r\n")
    }
    func aggregate(_ type: String, _ values: [RESPValue], count: Int) {
        line(type, String(count))
        for element in values { encode(element, into: &out) }
    }
    switch value {
    case .simpleString(let b):
        // Raw bytes: a simple string need not be UTF-8.
        out.writeString("+")
        out.writeImmutableBuffer(b)
        out.writeString("\r\n")
    case .error(let b): blob("!", b)
    case .integer(let i): line(":", String(i))
    case .bulkString(let b?): blob("$", b)
    case .bulkString(nil): line("$", "-1")
    case .array(let values?): aggregate("*", values, count: values.count)
    case .array(nil): line("*", "-1")
    case .null: line("_", "")
    case .boolean(let b): line("#", b ? "t" : "f")
    case .double(let d): line(",", d.isNaN ? "nan" : d == .infinity ? "inf" : d == -.infinity ? "-inf" : "\(d)")
    case .bigNumber(let b): line("(", String(decoding: b.readableBytesView, as: UTF8.self))
    case .verbatimString(let format, let text):
        var payload = ByteBuffer(string: format + ":")
        payload.writeImmutableBuffer(text)
        blob("=", payload)
    case .map(let values): aggregate("%", values, count: values.count / 2)
    case .set(let values): aggregate("~", values, count: values.count)
    case .push(let values): aggregate(">", values, count: values.count)
    }
}

/// Stops the run with a message libFuzzer reports as a crash.
func violated(_ message: @autoclosure () -> String) -> Never {
    fatalError("RESPFuzz property violated: \(message())")
}
