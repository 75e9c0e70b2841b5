import ChorusServer
import Logging
import Testing

/// Starting on a port another server holds must fail loudly, on either transport: a second listener that
/// quietly shared the port would take half of the connections.
@Suite("Listening")
struct ListenTests {
    @Test("a second server on a taken port fails with \"address already in use\"; the first keeps serving")
    func takenPortFails() async throws {
        try await TestServer.with { first in
            var configuration = TestServer.configuration()
            configuration.port = first.port
            var logger = Logger(label: "chorus.test.second")
            logger.logLevel = .critical
            let second = ChorusServer(configuration: configuration, logger: logger)
            do {
                try await second.run()
                Issue.record("the second server started on a port that was taken")
            } catch {
                #expect(String(describing: error).contains("Address already in use"), "\(error)")
            }
            #expect(try await httpRequest(port: first.port, "GET", "/healthz").status == 200)
            let client = try await TestWebSocket.connect(port: first.port, path: "/ws/a")
            try await client.sync()
            await client.close()
        }
    }
}
