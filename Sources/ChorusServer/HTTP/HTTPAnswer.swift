import NIOCore
import NIOHTTP1

/// A complete response of the HTTP side, before it is written: endpoints decide what to answer, and
/// `HTTPConnectionHandler` alone decides how (framing, `Connection: close`, keep-alive).
struct HTTPAnswer: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: ByteBuffer
    var headers: [(String, String)] = []
    /// The connection ends after this answer (it also ends when the request asked not to keep it).
    var closeAfter = false

    init(
        status: HTTPResponseStatus,
        contentType: String,
        body: ByteBuffer,
        headers: [(String, String)] = [],
        closeAfter: Bool = false
    ) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
        self.closeAfter = closeAfter
    }

    /// A JSON answer; the body ends with a newline, for people reading it with curl.
    init(status: HTTPResponseStatus, json: String, headers: [(String, String)] = [], closeAfter: Bool = false) {
        var body = ByteBufferAllocator().buffer(capacity: json.utf8.count + 1)
        body.writeString(json)
        body.writeString("\n")
        self.init(status: status, contentType: "application/json", body: body, headers: headers, closeAfter: closeAfter)
    }

    /// An error answer: `{"error":"<reason>"}` with the rejection's status and headers.
    init(_ rejection: HTTPRejection, closeAfter: Bool = false) {
        self.init(
            status: rejection.status,
            json: #"{"error":"\#(Self.jsonEscaped(rejection.reason))"}"#,
            headers: rejection.headers,
            closeAfter: closeAfter
        )
    }

    static func jsonEscaped(_ text: String) -> String {
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
