import Testing

@testable import ChorusCore

@Suite("permessage-deflate negotiation (RFC 7692)")
struct DeflateNegotiationTests {
    private let always = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

    @Test("a bare offer is accepted with both no_context_takeover parameters and a 32 KiB server window")
    func bareOffer() throws {
        let parameters = try #require(DeflateNegotiation.negotiate(["permessage-deflate"]))
        #expect(parameters.serverMaxWindowBits == 15)
        #expect(parameters.responseHeaderValue == self.always)
    }

    @Test("the browser offer (client_max_window_bits without a value) is accepted without repeating it")
    func browserOffer() throws {
        let parameters = try #require(DeflateNegotiation.negotiate(["permessage-deflate; client_max_window_bits"]))
        #expect(parameters.responseHeaderValue == self.always)
    }

    @Test("server_max_window_bits is honoured and echoed; quoted values and odd spacing parse")
    func serverWindowBits() throws {
        let parameters = try #require(
            DeflateNegotiation.negotiate(["PerMessage-Deflate ;server_max_window_bits=\"10\" ; client_max_window_bits=12"])
        )
        #expect(parameters.serverMaxWindowBits == 10)
        #expect(parameters.responseHeaderValue == self.always + "; server_max_window_bits=10")
    }

    @Test(
        "unacceptable offers are declined",
        arguments: [
            "permessage-deflate; server_max_window_bits=8",  // zlib cannot keep to a 256-byte window
            "permessage-deflate; server_max_window_bits",  // a value is required
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=09",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; unknown_parameter",
            "x-webkit-deflate-frame",
            "",
        ]
    )
    func declined(offer: String) {
        #expect(DeflateNegotiation.negotiate([offer]) == nil)
    }

    @Test("offers are walked in order until one is acceptable, across commas and header lines")
    func multipleOffers() throws {
        let first = try #require(
            DeflateNegotiation.negotiate([
                "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=8",
                "permessage-deflate; server_max_window_bits=11, permessage-deflate",
            ])
        )
        #expect(first.serverMaxWindowBits == 11)
        let fallback = try #require(
            DeflateNegotiation.negotiate(["permessage-deflate; bogus, permessage-deflate; client_no_context_takeover"])
        )
        #expect(fallback.serverMaxWindowBits == 15 && !fallback.echoServerMaxWindowBits)
        #expect(DeflateNegotiation.negotiate(["permessage-deflate; server_max_window_bits=8, foo"]) == nil)
    }
}
