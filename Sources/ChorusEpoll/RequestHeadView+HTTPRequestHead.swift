import ChorusCore
import NIOHTTP1

/// NIO's head from the bytes: here, beside the transport that reads heads, so ChorusCore needs no NIOHTTP1.
extension RequestHeadView {
    /// The head as NIO's type: its storage, its field array and every string past 15 bytes are allocations,
    /// so only the optional checks ask for it.
    package func makeHTTPRequestHead() -> HTTPRequestHead {
        var fields: [(String, String)] = []
        self.forEachField { name, value in
            let name = RequestHeadParser.knownName(name) ?? String(decoding: name, as: UTF8.self)
            fields.append((name, String(decoding: value, as: UTF8.self)))
            return true
        }
        return HTTPRequestHead(
            version: HTTPVersion(major: 1, minor: self.layout.versionMinor),
            method: HTTPMethod(rawValue: self.methodName),
            uri: String(decoding: self.bytes[self.layout.target], as: UTF8.self),
            headers: HTTPHeaders(fields)
        )
    }
}
