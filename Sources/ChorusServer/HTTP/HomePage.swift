import NIOCore
import NIOHTTP1

/// `GET /` on the main listener: a short page that says what this server is and links to what it serves (the status
/// page, the JavaScript client, health, metrics) and names the documentation, instead of a bare 404. Static, with no
/// external asset, encoded once for every request.
enum HomePage {
    static let contentType = "text/html; charset=utf-8"

    /// The answer every request shares: the body's storage is written, never copied.
    static let answer = HTTPAnswer(
        status: .ok,
        contentType: Self.contentType,
        body: ByteBuffer(string: Self.html),
        headers: [("Cache-Control", "no-cache")]
    )

    /// The page. It says what each link needs instead of depending on the configuration, so it stays one constant.
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Chorus</title>
        <link rel="icon" href="data:,">
        <style>
          body { margin: 2rem auto; max-width: 42rem; padding: 0 1rem; font: 15px/1.5 system-ui, sans-serif;
                 color: #1d2433; }
          code { background: #f1f3f8; padding: 0 .25em; border-radius: 3px; }
          li { margin: .3rem 0; }
        </style>
        </head>
        <body>
        <h1>Chorus</h1>
        <p>A WebSocket broadcast server: clients subscribe at <code>/ws/{channel}</code>, publishers
        <code>POST /publish/{channel}</code>.</p>
        <ul>
          <li><a href="/status">/status</a>: the live status page (served with <code>--status-page</code>; behind
            <code>--metrics-token</code> when set)</li>
          <li><a href="/chorus.js">/chorus.js</a>: the JavaScript client, an ES module
            (<code>import { Chorus } from "/chorus.js"</code>)</li>
          <li><a href="/healthz">/healthz</a> and <a href="/readyz">/readyz</a>: health and readiness</li>
          <li><a href="/metrics">/metrics</a>: Prometheus metrics (on <code>--metrics-port</code> instead when set;
            behind <code>--metrics-token</code> when set)</li>
        </ul>
        <p>Documentation: <code>README.md</code> and <code>docs/</code> in the repository
        (<code>docs/architecture.md</code>, <code>docs/metrics.md</code>, <code>docs/performance.md</code>,
        <code>docs/conformance.md</code>); <code>chorus --help</code> lists every option.</p>
        </body>
        </html>

        """#
}
