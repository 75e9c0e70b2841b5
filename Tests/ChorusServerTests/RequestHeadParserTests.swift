import ChorusCore
import NIOCore
import NIOHTTP1
import Testing

@testable import ChorusEpoll

/// The epoll transport's request-head reader: what it accepts it must read exactly; everything else it must
/// leave to the HTTP side (`unsupported`) rather than guess, and wait (`incomplete`) only for what can still
/// become a request.
@Suite("Epoll transport: request heads")
struct RequestHeadParserTests {
    private func parse(_ text: String) -> RequestHeadParser.Outcome {
        RequestHeadParser.parse(ByteBuffer(string: text))
    }

    /// The complete head in `text`, read through `RequestHeadView` into NIO's type, and its length.
    private func head(_ text: String) -> (head: HTTPRequestHead, length: Int)? {
        let buffer = ByteBuffer(string: text)
        guard case .complete(let layout) = RequestHeadParser.parse(buffer) else { return nil }
        let head = buffer.withUnsafeReadableBytes {
            RequestHeadView(bytes: $0, layout: layout).makeHTTPRequestHead()
        }
        return (head, layout.length)
    }

    @Test("a complete upgrade request: method, URI, version, headers (trimmed, repeated) and the head's length")
    func complete() throws {
        let text = "GET /ws/news?channel=a HTTP/1.1\r\nHost: x\r\nUpgrade:  websocket \r\nX-Two: 1\r\nX-Two: 2\r\n\r\n"
        guard let (head, length) = self.head(text + "\u{81}\u{80}") else {
            Issue.record("not complete")
            return
        }
        #expect(length == text.utf8.count)
        #expect(head.method == .GET && head.uri == "/ws/news?channel=a" && head.version == .http1_1)
        #expect(head.headers["upgrade"] == ["websocket"])
        #expect(head.headers["x-two"] == ["1", "2"])
    }

    @Test("a zero Content-Length with whitespace llhttp accepts (before it, spaces after it) is still an upgrade")
    func zeroLengthWithWhitespace() {
        let text = "GET /ws/a HTTP/1.1\r\nContent-Length: \t0  \r\n\r\n"
        guard case .complete(let layout) = self.parse(text) else {
            Issue.record("not complete")
            return
        }
        #expect(layout.length == text.utf8.count)
    }

    @Test("names an upgrade reads are matched in any case, and a name that only starts like one is kept as sent")
    func knownNames() throws {
        let text =
            "GET /ws/a HTTP/1.1\r\nSEC-WebSocket-KEY: k\r\nsec-websocket-version: 13\r\n"
            + "Sec-WebSocket-Keys: other\r\nSec-WebSocket-Ke: short\r\n\r\n"
        guard let (head, _) = self.head(text) else {
            Issue.record("not complete")
            return
        }
        #expect(head.headers["sec-websocket-key"] == ["k"])
        #expect(head.headers["Sec-WebSocket-Version"] == ["13"])
        #expect(
            head.headers.map(\.name) == [
                "sec-websocket-key", "sec-websocket-version", "Sec-WebSocket-Keys", "Sec-WebSocket-Ke",
            ]
        )
    }

    @Test("a line not ended by CRLF is left to the HTTP side, which refuses it as NIO's decoder does")
    func bareLineFeeds() throws {
        for text in [
            "GET /ws/a HTTP/1.1\nHost: x\n\r\n", "GET /ws/a HTTP/1.1\r\nHost: x\n\n\r\n",
            "GET /ws/a HTTP/1.1\r\nHost: x\r\n\nX: y\r\n\r\n", "GET /ws/a HTTP/1.1\r\nHost: x\ry\r\n\r\n",
            // Incomplete, but already not HTTP/1.1 as NIO reads it: no need to wait for the timeout.
            "GET /ws/a HTTP/1.1\nHost: x\n\n", "GET /ws/a HTTP/1.1\r\nHost: x\rX",
        ] {
            #expect(self.parse(text) == .unsupported, "\(text.debugDescription)")
        }
        // The head ends at the first blank line; what follows is the connection's data.
        let text = "GET /ws/a HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(self.head(text + "\r\n")?.length == text.utf8.count)
        // A CR at the end of what arrived so far may still be followed by its LF.
        #expect(self.parse("GET /ws/a HTTP/1.1\r\nHost: x\r") == .incomplete)
    }

    @Test("a head cut anywhere before its blank line is incomplete")
    func incomplete() {
        let text = "GET /ws/a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n"
        for end in 0..<(text.utf8.count - 1) {
            let prefix = String(decoding: Array(text.utf8)[0..<end], as: UTF8.self)
            #expect(self.parse(prefix) == .incomplete, "prefix of \(end) bytes")
        }
    }

    @Test("what the HTTP side must answer is unsupported, never incomplete or complete")
    func unsupported() {
        let cases = [
            "\u{16}\u{03}\u{01}\u{02}\u{00}",  // a TLS ClientHello on the plain port
            "get /ws/a HTTP/1.1\r\n",  // methods are upper-case tokens
            "GET /ws/a HTTP/2.0\r\nHost: x\r\n\r\n",
            "GET /ws/a\r\nHost: x\r\n\r\n",
            "GET /ws/a HTTP/1.1\r\nHost x\r\n\r\n",
            "GET /ws/a HTTP/1.1\r\n folded: value\r\n\r\n",
            "GET /ws/a HTTP/1.1\r\nBad Name: v\r\n\r\n",
            "POST /publish/a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            "POST /publish/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            // Bytes NIO's decoder refuses where they stand (found by Sources/HeadFuzz): a lower-case method in a
            // complete head, a target byte outside visible ASCII, a name that is not a token, a control character
            // in a value.
            "get /ws/a HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /ws/caf\u{E9} HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /ws/a HTTP/1.1\r\nX(y): v\r\n\r\n",
            "GET /ws/a HTTP/1.1\r\nX: a\u{01}b\r\n\r\n",
            "GET /ws/a HTTP/1.1\r\nContent-Length: 0\r\ncontent-length: 0\r\n\r\n",
            // A tab after a length: RFC 9110 whitespace, but llhttp refuses it there (Fuzz/head-corpus).
            "GET /ws/a HTTP/1.1\r\nContent-Length: 0 \t\r\n\r\n",
        ]
        for text in cases {
            #expect(self.parse(text) == .unsupported, "\(text.debugDescription)")
        }
    }
}
