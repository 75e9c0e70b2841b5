import Foundation
import NIOCore
import Testing

@testable import ChorusServer

/// `GET /chorus.js` serves the repository's `clients/js/chorus.js`, embedded in the binary.
@Suite("GET /chorus.js: the JavaScript client")
struct ChorusScriptTests {
    /// The client as the repository holds it (this file is `Tests/ChorusServerTests/ChorusScriptTests.swift`).
    private static func repositoryScript() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("clients/js/chorus.js"), encoding: .utf8)
    }

    @Test("the embedded copy is clients/js/chorus.js (else run scripts/generate-chorus-js.sh)")
    func embeddedCopy() throws {
        let script = try Self.repositoryScript()
        #expect(script.contains("export class Chorus"))
        #expect(ChorusScript.text == script, "stale: run scripts/generate-chorus-js.sh")
    }

    @Test("served on the main listener with its type, a short cache lifetime and CORS; only to GET")
    func served() async throws {
        let script = try Self.repositoryScript()
        try await TestServer.with(TestServer.configuration { $0.metricsPort = 0 }) { server in
            for _ in 1...2 {  // the shared body is not consumed by the first answer
                let response = try await httpRequest(port: server.port, "GET", "/chorus.js")
                #expect(response.status == 200)
                #expect(response.header("content-type") == "text/javascript; charset=utf-8")
                #expect(response.header("cache-control") == "public, max-age=300")
                #expect(response.header("access-control-allow-origin") == "*")
                #expect(response.body == script)
            }
            let post = try await httpRequest(port: server.port, "POST", "/chorus.js")
            #expect(post.status == 405)
            #expect(post.header("allow") == "GET")
            #expect(try await httpRequest(port: server.port, "GET", "/chorus.js?v=2").status == 200)
            let metricsPort = try #require(try await server.server.metricsAddress?.port)
            #expect(try await httpRequest(port: metricsPort, "GET", "/chorus.js").status == 404)
        }
    }
}
