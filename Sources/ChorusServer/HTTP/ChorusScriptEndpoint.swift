import NIOCore
import NIOHTTP1

/// `GET /chorus.js`: the JavaScript client (`clients/js/chorus.js`), from the binary itself, encoded once for every
/// request.
enum ChorusScriptEndpoint {
    static let contentType = "text/javascript; charset=utf-8"

    /// The answer every request shares: the body's storage is written, never copied.
    static let answer = HTTPAnswer(
        status: .ok,
        contentType: Self.contentType,
        body: ByteBuffer(string: ChorusScript.text),
        headers: [
            // Short, so browsers pick up the client of a new server version within minutes.
            ("Cache-Control", "public, max-age=300"),
            // A module script from another origin (the application's page) is fetched in CORS mode. A public file
            // read without credentials: any origin may load it.
            ("Access-Control-Allow-Origin", "*"),
        ]
    )
}
