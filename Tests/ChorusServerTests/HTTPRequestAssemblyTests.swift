import NIOCore
import NIOHTTP1
import Testing

@testable import ChorusServer

/// The assembly's decisions without a channel: the cases the black-box suites cannot reach (parts out of order)
/// or see only as timing (which timer firing counts a timeout, and only once).
@Suite("HTTP request assembly")
struct HTTPRequestAssemblyTests {
    private func assembly() -> HTTPRequestAssembly { HTTPRequestAssembly(maxBodyBytes: 4, echoPath: nil) }

    private func head(_ uri: String, _ version: HTTPVersion = .http1_1, _ headers: HTTPHeaders = [:]) -> HTTPRequestHead
    {
        HTTPRequestHead(version: version, method: .POST, uri: uri, headers: headers)
    }

    private func status(_ action: HTTPRequestAssembly.PartAction) -> HTTPResponseStatus? {
        if case .refuse(let rejection) = action { rejection.status } else { nil }
    }

    @Test("a chunked body is refused as it passes the limit, then answered with a lingering close")
    func chunkedOverLimit() {
        var assembly = self.assembly()
        #expect(self.status(assembly.head(self.head("/publish/a"))) == nil)
        var chunk = ByteBuffer(string: "abc")
        #expect(self.status(assembly.body(&chunk)) == nil)
        chunk = ByteBuffer(string: "de")
        #expect(self.status(assembly.body(&chunk)) == .payloadTooLarge)
        #expect(assembly.answering(closeAfter: true) == .lingerThenClose)
        #expect(assembly.isClosing)
        #expect(assembly.timerFired() == .close(countTimeout: false))
    }

    @Test("a complete request keeps the connection unless it asked not to; parts out of order are refused")
    func keepAliveAndOrder() {
        var assembly = self.assembly()
        _ = assembly.head(self.head("/healthz"))
        guard case .route(_, .health, body: nil) = assembly.end() else {
            Issue.record("not routed")
            return
        }
        #expect(assembly.timerFired() == .nothing)  // the answer is under way
        #expect(assembly.answering(closeAfter: false) == .keepOpen)
        #expect(self.status(assembly.end()) == .badRequest)

        var old = self.assembly()
        _ = old.head(self.head("/healthz", .http1_0))
        _ = old.end()
        #expect(old.answering(closeAfter: false) == .close)
    }

    @Test("the timer counts a timeout for a silent client or an unfinished request, not for a quiet kept-alive one")
    func timeoutCounts() {
        var silent = self.assembly()
        #expect(silent.timerFired() == .close(countTimeout: true))
        #expect(silent.timerFired() == .close(countTimeout: false))

        var unfinished = self.assembly()
        _ = unfinished.head(self.head("/publish/a"))
        #expect(unfinished.timerFired() == .close(countTimeout: true))

        var quiet = self.assembly()
        _ = quiet.head(self.head("/healthz"))
        _ = quiet.end()
        _ = quiet.answering(closeAfter: false)
        #expect(quiet.timerFired() == .close(countTimeout: false))
    }
}
