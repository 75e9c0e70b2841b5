import ChorusCore
import NIOCore
import Testing

@Suite struct ControlMessageTests {
    func parse(_ text: String) throws(ControlMessageError) -> ControlMessage {
        try ControlMessage.parse(ByteBuffer(string: text))
    }

    func reason(_ bytes: [UInt8]) -> String? {
        do {
            _ = try ControlMessage.parse(ByteBuffer(bytes: bytes))
            return nil
        } catch {
            #expect(error.reason.utf8.count <= 123, "reasons must fit in a close frame")
            return error.reason
        }
    }

    func reason(_ text: String) -> String? {
        self.reason(Array(text.utf8))
    }

    @Test func actions() throws {
        let news = try ChannelName(validating: "news")
        #expect(try self.parse(#"{"subscribe":"news"}"#) == .subscribe(news))
        #expect(try self.parse(#"{"unsubscribe":"news"}"#) == .unsubscribe(news))
        #expect(try self.parse(#"{"publish":"news","data":"hi"}"#) == .publish(news, data: "hi"))
        #expect(try self.parse(#"{"data":"hi","publish":"news"}"#) == .publish(news, data: "hi"))
        #expect(try self.parse(" \n\t{ \"subscribe\" :\r\n \"news\" } \n") == .subscribe(news))
        #expect(try self.parse(#"{"publish":"news","data":""}"#) == .publish(news, data: ""))
    }

    @Test func readerIndexIsRespectedAndNotConsumed() throws {
        var buffer = ByteBuffer(string: #"xx{"subscribe":"news"}"#)
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(try ControlMessage.parse(buffer) == .subscribe(try ChannelName(validating: "news")))
        #expect(buffer.readableBytes == 20)
    }

    @Test func escapes() throws {
        let json = #"{"publish":"a","data":"q\" b\\ s\/ \b\f\n\r\t \u00e9 \u20AC \ud83d\ude00 \u0000 raw é😀"}"#
        let expected = "q\" b\\ s/ \u{8}\u{C}\n\r\t é € 😀 \u{0} raw é😀"
        #expect(try self.parse(json) == .publish(try ChannelName(validating: "a"), data: expected))
        // Escaped key names are decoded too.
        #expect(try self.parse(#"{"sub\u0073cribe":"a"}"#) == .subscribe(try ChannelName(validating: "a")))
    }

    @Test func malformedJSON() {
        #expect(self.reason("") == "truncated JSON")
        #expect(self.reason("   ") == "truncated JSON")
        #expect(self.reason(#"{"subscribe":"news""#) == "truncated JSON")
        #expect(self.reason(#"{"subscribe":"ne"#) == "truncated JSON")
        #expect(self.reason(#"{"subscribe":"#) == "truncated JSON")
        #expect(self.reason(#"{"subscribe""#) == "truncated JSON")
        #expect(self.reason(#"{"subscribe":"news\"#) == "truncated JSON")
        #expect(self.reason(#"{"subscribe":"news\u00"#) == "truncated JSON")
        #expect(self.reason(#"{"subscribe":"news"} x"#) == "unexpected characters after the JSON object")
        #expect(self.reason(#"{"subscribe":"news"}{}"#) == "unexpected characters after the JSON object")
        #expect(self.reason(#"["subscribe","news"]"#) == "expected a JSON object")
        #expect(self.reason(#""news""#) == "expected a JSON object")
        #expect(self.reason(#"{subscribe:"news"}"#) == "expected a string key")
        #expect(self.reason(#"{"subscribe":"news",}"#) == "expected a string key")
        #expect(self.reason(#"{"subscribe" "news"}"#) == "expected ':' after a key")
        #expect(self.reason(#"{"subscribe":"news" "data":"x"}"#) == "expected ',' or '}'")
        #expect(self.reason(#"{"subscribe":'news'}"#) == #"value of "subscribe" must be a string"#)
        #expect(self.reason(#"{"subscribe":"a\x"}"#) == "invalid escape in string")
        #expect(self.reason(#"{"subscribe":"a\u12G4"}"#) == "invalid \\u escape")
        #expect(self.reason("{\"subscribe\":\"a\nb\"}") == "unescaped control character in string")
    }

    @Test func nonStringValues() {
        #expect(self.reason(#"{"subscribe":1}"#) == #"value of "subscribe" must be a string"#)
        #expect(self.reason(#"{"subscribe":null}"#) == #"value of "subscribe" must be a string"#)
        #expect(self.reason(#"{"subscribe":true}"#) == #"value of "subscribe" must be a string"#)
        #expect(self.reason(#"{"subscribe":["news"]}"#) == #"value of "subscribe" must be a string"#)
        #expect(self.reason(#"{"subscribe":{"a":"b"}}"#) == #"value of "subscribe" must be a string"#)
        #expect(self.reason(#"{"publish":"news","data":{"x":"y"}}"#) == #"value of "data" must be a string"#)
        #expect(self.reason(#"{"publish":"news","data":42}"#) == #"value of "data" must be a string"#)
    }

    @Test func keys() {
        #expect(self.reason("{}") == #"expected one of "subscribe", "unsubscribe" or "publish""#)
        #expect(self.reason(#"{"data":"x"}"#) == #"expected one of "subscribe", "unsubscribe" or "publish""#)
        #expect(self.reason(#"{"subscribe":"a","subscribe":"b"}"#) == #"duplicate key "subscribe""#)
        #expect(self.reason(#"{"subscribe":"a","unsubscribe":"b"}"#) == "more than one action")
        #expect(self.reason(#"{"publish":"a","data":"x","data":"y"}"#) == #"duplicate key "data""#)
        #expect(self.reason(#"{"subscribe":"a","channel":"b"}"#) == #"unknown key "channel""#)
        #expect(self.reason(#"{"Subscribe":"a"}"#) == #"unknown key "Subscribe""#)
        #expect(self.reason("{\"\(String(repeating: "k", count: 500))\":\"a\"}") == "unknown key")
        #expect(self.reason(#"{"publish":"news"}"#) == #""publish" requires "data""#)
        #expect(self.reason(#"{"subscribe":"news","data":"x"}"#) == #""data" is only allowed with "publish""#)
        #expect(self.reason(#"{"unsubscribe":"news","data":"x"}"#) == #""data" is only allowed with "publish""#)
    }

    @Test func invalidChannelNames() {
        #expect(self.reason(#"{"subscribe":""}"#) == "channel name is empty")
        #expect(self.reason(#"{"subscribe":"a b"}"#) == "channel name contains a character outside [A-Za-z0-9_.:-]")
        #expect(
            self.reason(#"{"subscribe":"caf\u00e9"}"#) == "channel name contains a character outside [A-Za-z0-9_.:-]")
        #expect(
            self.reason("{\"publish\":\"\(String(repeating: "x", count: 129))\",\"data\":\"d\"}")
                == "channel name is longer than 128 characters"
        )
    }

    @Test func surrogatesAndUTF8() {
        #expect(self.reason(#"{"publish":"a","data":"\ud83d"}"#) == "unpaired surrogate in \\u escape")
        #expect(self.reason(#"{"publish":"a","data":"\ud83dx"}"#) == "unpaired surrogate in \\u escape")
        #expect(self.reason(#"{"publish":"a","data":"\ud83d\u0041"}"#) == "unpaired surrogate in \\u escape")
        #expect(self.reason(#"{"publish":"a","data":"\ude00"}"#) == "unpaired surrogate in \\u escape")
        let invalidUTF8 = Array(#"{"publish":"a","data":""#.utf8) + [0xC0, 0x80] + Array(#""}"#.utf8)
        #expect(self.reason(invalidUTF8) == "string is not valid UTF-8")
    }
}
