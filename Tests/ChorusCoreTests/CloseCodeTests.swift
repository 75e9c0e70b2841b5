import ChorusCore
import Testing

@Suite struct CloseCodeTests {
    @Test func namedCodes() {
        #expect(CloseCode.normal.rawValue == 1000)
        #expect(CloseCode.goingAway.rawValue == 1001)
        #expect(CloseCode.protocolError.rawValue == 1002)
        #expect(CloseCode.unsupportedData.rawValue == 1003)
        #expect(CloseCode.invalidPayload.rawValue == 1007)
        #expect(CloseCode.policyViolation.rawValue == 1008)
        #expect(CloseCode.messageTooBig.rawValue == 1009)
        #expect(CloseCode.internalError.rawValue == 1011)
        #expect(CloseCode.tryAgainLater.rawValue == 1013)
    }

    @Test func validOnWire() {
        for code in UInt16(0)...UInt16.max {
            let expected = (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
            #expect(CloseCode.isValidOnWire(code) == expected, "code \(code)")
        }
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            #expect(!CloseCode.isValidOnWire(code))
        }
    }

    @Test func opcodeControlFlag() {
        #expect(!WebSocketOpcode.continuation.isControl)
        #expect(!WebSocketOpcode.text.isControl)
        #expect(!WebSocketOpcode.binary.isControl)
        #expect(WebSocketOpcode.close.isControl)
        #expect(WebSocketOpcode.ping.isControl)
        #expect(WebSocketOpcode.pong.isControl)
        for raw: UInt8 in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            #expect(WebSocketOpcode(rawValue: raw) == nil)
        }
    }
}
