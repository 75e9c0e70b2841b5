import ChorusCore
import NIOHTTP1
import Testing

@testable import ChorusServer

/// What a refused publish answers over HTTP (the refusal itself is tested on the hub: `PublishQueueTests`).
@Suite("Publish API: failures")
struct PublishFailureTests {
    @Test("an overloaded hub answers 503 with Retry-After, saying why; other failures keep their answers")
    func overloadedIs503() {
        let overloaded = PublishEndpoint.failure(PublishOverloaded(limit: 7), clustered: false)
        #expect(overloaded.status == .serviceUnavailable)
        #expect(overloaded.reason.contains("7 publishes waiting"))
        #expect(overloaded.headers.contains { $0.0 == "Retry-After" && $0.1 == "1" })
        struct Other: Error {}
        #expect(PublishEndpoint.failure(Other(), clustered: true).status == .serviceUnavailable)
        #expect(PublishEndpoint.failure(Other(), clustered: false).status == .internalServerError)
    }
}
