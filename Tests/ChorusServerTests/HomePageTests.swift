import NIOCore
import Testing

@testable import ChorusServer

/// `GET /` answers a short page linking to what the server serves, instead of a bare 404.
@Suite("GET /: the home page")
struct HomePageTests {
    @Test("served on the main listener as HTML linking the status page, the client, health, metrics and the docs")
    func served() async throws {
        try await TestServer.with(TestServer.configuration { $0.metricsPort = 0 }) { server in
            for path in ["/", "/?from=browser"] {
                for _ in 1...2 {  // the shared body is not consumed by the first answer
                    let response = try await httpRequest(port: server.port, "GET", path)
                    #expect(response.status == 200)
                    #expect(response.header("content-type") == "text/html; charset=utf-8")
                    for link in ["/status", "/chorus.js", "/healthz", "/readyz", "/metrics"] {
                        #expect(response.body.contains(#"<a href="\#(link)">"#), "no link to \(link)")
                    }
                    #expect(response.body.contains("--status-page"))
                    #expect(response.body.contains("docs/</code> in the repository"))
                    #expect(response.body == HomePage.html)
                }
            }
            let post = try await httpRequest(port: server.port, "POST", "/")
            #expect(post.status == 405)
            #expect(post.header("allow") == "GET")
            // Unknown paths are still not found, and the metrics listener serves no home page.
            for path in ["/index.html", "/nothing", "//"] {
                #expect(try await httpRequest(port: server.port, "GET", path).status == 404, "\(path)")
            }
            let metricsPort = try #require(try await server.server.metricsAddress?.port)
            #expect(try await httpRequest(port: metricsPort, "GET", "/").status == 404)
        }
    }
}
