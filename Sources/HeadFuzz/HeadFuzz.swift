import ChorusCore
import ChorusEpoll
import FuzzEntry
import NIOCore
import NIOEmbedded
import NIOHTTP1

// A libFuzzer target for the epoll transport's request-head reader (`RequestHeadParser`, `RequestHeadView`) and
// the handshake checks it feeds (see scripts/fuzz.sh). It reads what any stranger sends, so its answers are held
// against NIO's HTTP/1 decoder (llhttp), which the HTTP side and the NIO transport use:
//
// Input layout: byte 0 picks a split point, the rest is what a client sent on a new connection.
// - The reader never traps; a complete head ends at the input's first "\n\r\n", and its method, target and
//   field lines lie inside it, every field line reading as a field.
// - It reads the same however the bytes arrive: a prefix holding the whole head reads the same layout, a shorter
//   one is not complete (the transport parses what it has after every read).
// - Whenever NIO's decoder reads a head from the same bytes, it reads the same method, target, version and fields
//   (names as sent, values without surrounding whitespace), and the handshake checks (`HandshakeValidator`, the
//   `Upgrade: websocket` test) answer the same through the reader's view and through NIO's head.
// - A head the epoll side would upgrade (complete, `Upgrade: websocket`, a path, accepted by `HandshakeValidator`)
//   is one NIO reads too, ending at the same byte: NIO reads no head from one byte less. The epoll side never
//   upgrades a request the HTTP side would refuse or frame differently; a prefix the reader leaves to the HTTP
//   side (`unsupported`) is never part of such a head either, so how the bytes arrive cannot change the answer.

@_cdecl("HeadFuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzTarget("HeadFuzz", argc, argv) { HeadProperty.check(Array($0)) }
}

/// Stops the run with a message libFuzzer reports as a crash.
func violated(_ message: @autoclosure () -> String) -> Never {
    fatalError("HeadFuzz property violated: \(message())")
}

/// A request head in a form both readers produce and that can be compared.
struct Head: Equatable, CustomStringConvertible {
    var method: String
    var target: String
    var versionMinor: Int
    var fields: [Field]

    struct Field: Equatable {
        var name: String
        var value: String
    }

    var description: String {
        "\(self.method) \(self.target) 1.\(self.versionMinor) \(self.fields.map { "\($0.name): \($0.value)" })"
    }
}

/// What NIO's request decoder makes of some bytes.
enum DecoderOutcome {
    case head(HTTPRequestHead)
    case incomplete
    case refused(any Error)
}

enum HeadProperty {
    static func check(_ input: [UInt8]) {
        guard let first = input.first else { return }
        let stream = Array(input.dropFirst())
        let split = Int(first) % (stream.count + 1)
        let outcome = RequestHeadParser.parse(ByteBuffer(bytes: stream))
        let prefix = RequestHeadParser.parse(ByteBuffer(bytes: stream[..<split]))

        guard case .complete(let layout) = outcome else {
            if case .complete(let early) = prefix {
                violated("a prefix of \(split) bytes is complete (\(early)), the whole input \(outcome)")
            }
            return
        }
        Self.checkLayout(layout, of: stream)
        if split >= layout.length {
            guard prefix == outcome else { violated("a prefix holding the head reads \(prefix), the whole \(outcome)") }
        } else if case .complete = prefix {
            violated("a prefix of \(split) bytes is complete, the head is \(layout.length)")
        }

        stream.withUnsafeBytes { bytes in
            let view = RequestHeadView(bytes: bytes, layout: layout)
            let read = Self.head(of: view, layout: layout, bytes: bytes)
            let validation = HandshakeValidator.validate(
                method: view.methodName,
                versionMajor: view.versionMajor,
                versionMinor: view.versionMinor,
                fields: view
            )
            let asksUpgrade = HandshakeValidator.containsToken("websocket", in: "upgrade", view)
            // What the policy's first checks let through: a path (every WebSocket endpoint is one), then the
            // RFC 6455 handshake.
            var upgrades = asksUpgrade && read.target.utf8.first == UInt8(ascii: "/")
            if case .reject = validation { upgrades = false }

            let decoded = Self.decode(stream[..<layout.length])
            switch decoded {
            case .head(let nio):
                let nioRead = Self.head(of: nio)
                guard nioRead == read else { violated("the reader reads \(read), NIO \(nioRead)") }
                let fields = StringHeaderFields(nio.headers)
                let nioValidation = HandshakeValidator.validate(
                    method: nio.method.rawValue,
                    versionMajor: nio.version.major,
                    versionMinor: nio.version.minor,
                    fields: fields
                )
                guard nioValidation == validation else {
                    violated("the handshake check answers \(validation) on the reader's view, \(nioValidation) on NIO")
                }
                guard HandshakeValidator.containsToken("websocket", in: "upgrade", fields) == asksUpgrade else {
                    violated("the Upgrade test differs between the reader's view and NIO's head")
                }
                Self.checkBuiltHead(view.makeHTTPRequestHead(), nio)
            case .incomplete:
                if upgrades { violated("an upgrade the reader accepts is incomplete for NIO: \(read)") }
            case .refused(let error):
                if upgrades { violated("an upgrade the reader accepts is refused by NIO (\(error)): \(read)") }
            }
            if upgrades, case .head = Self.decode(stream[..<(layout.length - 1)]) {
                violated("NIO reads the upgrade's head from one byte less than the reader's \(layout.length)")
            }
            if upgrades, case .unsupported = prefix {
                violated("a prefix of \(split) bytes is left to the HTTP side, the whole is an upgrade: \(read)")
            }
        }
    }

    /// A complete head's parts lie inside it, and it ends at the input's first "\n\r\n".
    static func checkLayout(_ layout: RequestHeadLayout, of stream: [UInt8]) {
        let head = 0..<layout.length
        guard layout.length >= 4, layout.length <= stream.count else {
            violated("head length \(layout.length) outside the input of \(stream.count)")
        }
        for (name, part) in [("method", layout.method), ("target", layout.target), ("fields", layout.fields)] {
            guard part.lowerBound >= head.lowerBound, part.upperBound <= head.upperBound else {
                violated("\(name) \(part) outside the head \(head)")
            }
        }
        guard !layout.method.isEmpty, !layout.target.isEmpty, layout.method.upperBound < layout.target.lowerBound,
            layout.target.upperBound <= layout.fields.lowerBound || layout.fields.isEmpty
        else { violated("parts out of order: \(layout)") }
        guard layout.versionMinor == 0 || layout.versionMinor == 1 else { violated("version 1.\(layout.versionMinor)") }
        let end = Array("\n\r\n".utf8)
        guard stream[(layout.length - 3)..<layout.length].elementsEqual(end) else {
            violated("the head does not end with \\n\\r\\n")
        }
        for start in 0..<(layout.length - 3) where stream[start..<(start + 3)].elementsEqual(end) {
            violated("the head goes past the \\n\\r\\n at \(start)")
        }
    }

    /// The head as the reader's view reads it; every field line must read as a field.
    static func head(of view: RequestHeadView, layout: RequestHeadLayout, bytes: UnsafeRawBufferPointer) -> Head {
        var fields: [Head.Field] = []
        view.forEachField { name, value in
            fields.append(
                Head.Field(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
            )
            return true
        }
        // Lines are separated by "\n"; the last ends where the fields do.
        let lines = layout.fields.isEmpty ? 0 : bytes[layout.fields].count { $0 == UInt8(ascii: "\n") } + 1
        guard lines == fields.count else { violated("\(lines) field lines, \(fields.count) fields read") }
        var target = ""
        view.withTarget { target = String(decoding: $0, as: UTF8.self) }
        return Head(method: view.methodName, target: target, versionMinor: view.versionMinor, fields: fields)
    }

    static func head(of nio: HTTPRequestHead) -> Head {
        guard nio.version.major == 1 else { violated("NIO read HTTP/\(nio.version.major)") }
        return Head(
            method: nio.method.rawValue,
            target: nio.uri,
            versionMinor: nio.version.minor,
            fields: nio.headers.map { Head.Field(name: $0.name, value: Self.trimmingTrailingWhitespace($0.value)) }
        )
    }

    /// NIO keeps the whitespace after a value (llhttp drops only the whitespace before it); it is not part of the
    /// value (RFC 9110 5.5).
    static func trimmingTrailingWhitespace(_ value: String) -> String {
        var bytes = Array(value.utf8)
        while let last = bytes.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `makeHTTPRequestHead()` (used by the optional checks) gives NIO's head, names compared ignoring case (it
    /// uses lowercase literals for the names an upgrade reads).
    static func checkBuiltHead(_ built: HTTPRequestHead, _ nio: HTTPRequestHead) {
        let same =
            built.method == nio.method && built.uri == nio.uri && built.version == nio.version
            && built.headers.count == nio.headers.count
            && zip(built.headers, nio.headers).allSatisfy {
                $0.name.lowercased() == $1.name.lowercased() && $0.value == Self.trimmingTrailingWhitespace($1.value)
            }
        guard same else { violated("makeHTTPRequestHead() gives \(built), NIO \(nio)") }
    }

    /// Runs NIO's request decoder (as the server's HTTP pipeline configures it) over `bytes`.
    static func decode(_ bytes: ArraySlice<UInt8>) -> DecoderOutcome {
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
        )
        defer { _ = try? channel.finish() }
        do {
            try channel.writeInbound(ByteBuffer(bytes: bytes))
            guard let part = try channel.readInbound(as: HTTPServerRequestPart.self) else { return .incomplete }
            guard case .head(let head) = part else { violated("NIO's first part is \(part)") }
            return .head(head)
        } catch {
            return .refused(error)
        }
    }
}
