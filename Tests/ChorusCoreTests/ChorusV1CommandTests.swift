import ChorusCore
import NIOCore
import Testing

/// `ChorusV1Command.parse`: every accepted form, and every refusal with its reason.
@Suite("chorus.v1 commands: accepted forms and refusals")
struct ChorusV1CommandTests {
    static let news = try! ChannelName(validating: "news")
    static let epoch = Epoch("k3J9aB7x")!
    static let malformedSince = #""since" must be {"offset":<integer>,"epoch":"<epoch>"}"#

    static func parse(_ text: String) throws(ControlMessageError) -> ChorusV1Command {
        try ChorusV1Command.parse(ByteBuffer(string: text))
    }

    static func reason(_ text: String) -> String? {
        do {
            _ = try ChorusV1Command.parse(ByteBuffer(string: text))
            return nil
        } catch {
            #expect(error.reason.utf8.count <= 123, "reasons must fit in a close frame")
            return error.reason
        }
    }

    /// The `.json` data of a publish on "news" and the text its range covers.
    static func publishedJSON(_ text: String) throws -> (json: String, echo: Bool) {
        guard case .publish(let channel, .json(let range), let echo) = try Self.parse(text) else {
            Issue.record("not a publish of JSON data: \(text)")
            return ("", false)
        }
        #expect(channel == Self.news)
        let bytes = Array(text.utf8)
        try #require(range.lowerBound >= 0 && range.upperBound <= bytes.count)
        return (String(decoding: bytes[range], as: UTF8.self), echo)
    }

    // MARK: Accepted

    @Test("subscribe, with and without since, keys in any order, whitespace anywhere between tokens")
    func subscribe() throws {
        let since = StreamPosition(offset: 41, epoch: Self.epoch)
        #expect(try Self.parse(#"{"subscribe":"news"}"#) == .subscribe(Self.news, since: nil))
        #expect(
            try Self.parse(#"{"subscribe":"news","since":{"offset":41,"epoch":"k3J9aB7x"}}"#)
                == .subscribe(Self.news, since: since)
        )
        #expect(
            try Self.parse(#"{"since":{"epoch":"k3J9aB7x","offset":41},"subscribe":"news"}"#)
                == .subscribe(Self.news, since: since)
        )
        #expect(
            try Self.parse(
                " \t\r\n{ \"since\" :\n{ \"epoch\"\t:\r\"k3J9aB7x\" ,\n\"offset\" : 41 } ,\"subscribe\" : \"news\" }\n "
            )
                == .subscribe(Self.news, since: since)
        )
        // Escaped key names are decoded.
        #expect(
            try Self.parse(#"{"sub\u0073cribe":"news","since":{"off\u0073et":41,"epoch":"k3J9aB7x"}}"#)
                == .subscribe(Self.news, since: since)
        )
    }

    @Test("since: offsets from 0 to UInt64.max, epochs of 1 to 32 characters from [A-Za-z0-9_-]")
    func sinceBounds() throws {
        for (offset, epoch) in [
            ("0", "a"), ("1", "Z"), ("18446744073709551615", "k3J9aB7x"),
            ("10", String(repeating: "aZ9_-", count: 6) + "xy"),
        ] {
            let command = try Self.parse(#"{"subscribe":"news","since":{"offset":\#(offset),"epoch":"\#(epoch)"}}"#)
            #expect(
                command == .subscribe(Self.news, since: StreamPosition(offset: UInt64(offset)!, epoch: Epoch(epoch)!)),
                "offset \(offset), epoch \(epoch)"
            )
        }
        #expect(Epoch(String(repeating: "aZ9_-", count: 6) + "xy")!.value.utf8.count == 32)
    }

    @Test("unsubscribe")
    func unsubscribe() throws {
        #expect(try Self.parse(#"{"unsubscribe":"news"}"#) == .unsubscribe(Self.news))
        #expect(try Self.parse(" { \"unsubscribe\" : \"news\" } ") == .unsubscribe(Self.news))
    }

    @Test("publish a string: decoded text; echo true by default, or as given, in any key order")
    func publishText() throws {
        #expect(
            try Self.parse(#"{"publish":"news","data":"hi"}"#) == .publish(Self.news, data: .text("hi"), echo: true)
        )
        #expect(try Self.parse(#"{"publish":"news","data":""}"#) == .publish(Self.news, data: .text(""), echo: true))
        #expect(
            try Self.parse(#"{"publish":"news","data":"q\"\\\/\n\u00e9\ud83d\ude00 é"}"#)
                == .publish(Self.news, data: .text("q\"\\/\né😀 é"), echo: true)
        )
        #expect(
            try Self.parse(#"{"echo":false,"data":"hi","publish":"news"}"#)
                == .publish(Self.news, data: .text("hi"), echo: false)
        )
        #expect(
            try Self.parse(#"{"publish":"news","echo":true,"data":"hi"}"#)
                == .publish(Self.news, data: .text("hi"), echo: true)
        )
    }

    @Test(
        "publish any other JSON value: the range of exactly its bytes",
        arguments: [
            #"{"a":[1,2],"b":{"c":null}}"#, "{}", "{ \"a\" : 1 }", #"[1,"x",null,[]]"#, "[ ]", "0", "-1.5e3", "42",
            "true",
            "false", "null",
        ]
    )
    func publishJSON(value: String) throws {
        #expect(try Self.publishedJSON(#"{"publish":"news","data":\#(value)}"#) == (value, true))
        #expect(try Self.publishedJSON(#"{"data":\#(value),"publish":"news","echo":false}"#) == (value, false))
        #expect(
            try Self.publishedJSON("{\"publish\":\"news\",\"data\" : \n\(value)\t ,\"echo\":true}") == (value, true)
        )
        #expect(try Self.publishedJSON("{\"publish\":\"news\",\"data\":\(value) }") == (value, true))
    }

    @Test("a .json range counts from the reader index, which is not moved")
    func publishJSONFromReaderIndex() throws {
        var buffer = ByteBuffer(string: #"xyz{"publish":"news","data":[1,2]}"#)
        buffer.moveReaderIndex(forwardBy: 3)
        guard case .publish(_, .json(let range), _) = try ChorusV1Command.parse(buffer) else {
            Issue.record("not a JSON publish")
            return
        }
        #expect(buffer.readerIndex == 3 && buffer.readableBytes == 31)
        #expect(range == 25..<30)
        #expect(buffer.getString(at: buffer.readerIndex + range.lowerBound, length: range.count) == "[1,2]")
    }

    // MARK: Refused

    @Test("unknown, duplicate and conflicting keys")
    func keys() {
        #expect(Self.reason(#"{"subscribe":"news","foo":1}"#) == #"unknown key "foo""#)
        #expect(Self.reason(#"{"Subscribe":"news"}"#) == #"unknown key "Subscribe""#)
        #expect(Self.reason(#"{"\#(String(repeating: "k", count: 33))":1}"#) == "unknown key")
        #expect(Self.reason(#"{"subscribe":"news","subscribe":"news"}"#) == "more than one action")
        #expect(Self.reason(#"{"subscribe":"a","unsubscribe":"a"}"#) == "more than one action")
        #expect(Self.reason(#"{"subscribe":"a","publish":"b","data":1}"#) == "more than one action")
        #expect(Self.reason(#"{"publish":"a","data":1,"publish":"a"}"#) == "more than one action")
        #expect(
            Self.reason(#"{"subscribe":"a","since":{"offset":1,"epoch":"e"},"since":{"offset":1,"epoch":"e"}}"#)
                == #"duplicate key "since""#
        )
        #expect(Self.reason(#"{"publish":"a","data":1,"data":2}"#) == #"duplicate key "data""#)
        #expect(Self.reason(#"{"publish":"a","data":1,"echo":true,"echo":true}"#) == #"duplicate key "echo""#)
    }

    @Test("keys that do not go with the action")
    func keysForAction() {
        let dataOrEcho = #""data" and "echo" are only allowed with "publish""#
        #expect(Self.reason(#"{"subscribe":"a","data":1}"#) == dataOrEcho)
        #expect(Self.reason(#"{"subscribe":"a","echo":false}"#) == dataOrEcho)
        #expect(
            Self.reason(#"{"publish":"a","data":1,"since":{"offset":1,"epoch":"e"}}"#)
                == #""since" is only allowed with "subscribe""#
        )
        let unsubscribeAlone = #""unsubscribe" takes no other key"#
        #expect(Self.reason(#"{"unsubscribe":"a","since":{"offset":1,"epoch":"e"}}"#) == unsubscribeAlone)
        #expect(Self.reason(#"{"unsubscribe":"a","data":1}"#) == unsubscribeAlone)
        #expect(Self.reason(#"{"unsubscribe":"a","echo":true}"#) == unsubscribeAlone)
        #expect(Self.reason(#"{"publish":"a"}"#) == #""publish" requires "data""#)
        #expect(Self.reason(#"{"publish":"a","echo":false}"#) == #""publish" requires "data""#)
        let noAction = #"expected one of "subscribe", "unsubscribe" or "publish""#
        #expect(Self.reason("{}") == noAction)
        #expect(Self.reason(#"{"since":{"offset":1,"epoch":"e"}}"#) == noAction)
        #expect(Self.reason(#"{"data":1,"echo":true}"#) == noAction)
    }

    @Test("values of the wrong kind, and invalid channel names")
    func values() {
        #expect(Self.reason(#"{"subscribe":1}"#) == #"value of "subscribe" must be a string"#)
        #expect(Self.reason(#"{"publish":null,"data":1}"#) == #"value of "publish" must be a string"#)
        #expect(Self.reason(#"{"publish":"a","data":1,"echo":"false"}"#) == #"value of "echo" must be true or false"#)
        #expect(Self.reason(#"{"publish":"a","data":1,"echo":1}"#) == #"value of "echo" must be true or false"#)
        #expect(Self.reason(#"{"publish":"a","data":1,"echo":tru}"#) == #"value of "echo" must be true or false"#)
        #expect(Self.reason(#"{"publish":"a","data":1,"echo":truex}"#) == "expected ',' or '}'")
        #expect(Self.reason(#"{"subscribe":""}"#) == "channel name is empty")
        #expect(Self.reason(#"{"subscribe":"a b"}"#) == "channel name contains a character outside [A-Za-z0-9_.:-]")
        #expect(
            Self.reason(#"{"unsubscribe":"\#(String(repeating: "a", count: 129))"}"#)
                == "channel name is longer than 128 characters"
        )
    }

    @Test(
        "since with a bad offset",
        arguments: [
            "-1", "-0", "01", "00", "1.5", "1.0", "1e3", "1E3", "18446744073709551616", "99999999999999999999", #""5""#,
            "null",
            "true", "+1", "0x10", "",
        ]
    )
    func sinceBadOffset(offset: String) {
        #expect(
            Self.reason(#"{"subscribe":"a","since":{"offset":\#(offset),"epoch":"e"}}"#) == Self.malformedSince,
            "offset \(offset)"
        )
        #expect(
            Self.reason(#"{"subscribe":"a","since":{"epoch":"e","offset":\#(offset)}}"#) == Self.malformedSince,
            "offset \(offset), last"
        )
    }

    @Test(
        "since with a bad epoch",
        arguments: [
            #""ab.c""#, #""a b""#, #""é""#, #""a\u0000""#, #""a/b""#, #""""#,
            #""\#(String(repeating: "a", count: 33))""#,
            "5", "null", "true", #"["e"]"#,
        ]
    )
    func sinceBadEpoch(epoch: String) {
        #expect(
            Self.reason(#"{"subscribe":"a","since":{"offset":1,"epoch":\#(epoch)}}"#) == "invalid epoch",
            "epoch \(epoch)"
        )
    }

    @Test("since that is not exactly an offset and an epoch")
    func sinceShape() {
        for since in [
            #"{"offset":1}"#, #"{"epoch":"e"}"#, "{}", "null", "1", #""1:e""#, #"[1,"e"]"#,
            #"{"offset":1,"epoch":"e","x":1}"#, #"{"offset":1,"offset":2,"epoch":"e"}"#,
            #"{"offset":1,"epoch":"e","epoch":"f"}"#, #"{"offset":1,"epoch":"e",}"#, #"{"offset":1 "epoch":"e"}"#,
            #"{"offset" 1,"epoch":"e"}"#, #"{offset:1,"epoch":"e"}"#,
        ] {
            #expect(Self.reason(#"{"subscribe":"a","since":\#(since)}"#) == Self.malformedSince, "since \(since)")
        }
    }

    @Test(
        "data that is not one valid JSON value",
        arguments: [
            "tru", "nul", "1.", "-", ".5", "'x'", "[1,]", "[1 2]", #"{"a":}"#, #"{"a" 1}"#, "{a:1}", "}", "NaN",
            "[1,2",
        ]
    )
    func invalidData(data: String) {
        #expect(
            Self.reason(#"{"publish":"a","data":\#(data)}"#) == #""data" is not a valid JSON value"#,
            "data \(data)"
        )
    }

    @Test("a value followed by more: the value ends where JSON says, then the object must go on or end")
    func dataFollowedByMore() {
        #expect(Self.reason(#"{"publish":"a","data":01}"#) == "expected ',' or '}'")
        #expect(Self.reason(#"{"publish":"a","data":[1]]}"#) == "expected ',' or '}'")
        #expect(Self.reason(#"{"publish":"a","data":"x"y}"#) == "expected ',' or '}'")
        // A value cut short with the object closed inside it, or closing the object.
        #expect(Self.reason(#"{"publish":"a","data":{"a":1}"#) == "truncated JSON")
    }

    @Test("not one JSON object: other values, trailing bytes, truncation")
    func notAnObject() {
        for text in ["[]", #""subscribe""#, "42", "null", "x", #"[{"subscribe":"a"}]"#] {
            #expect(Self.reason(text) == "expected a JSON object", "\(text)")
        }
        for text in [#"{"subscribe":"a"}x"#, #"{"subscribe":"a"} {}"#, #"{"subscribe":"a"}}"#, "{}}"] {
            #expect(Self.reason(text) == "unexpected characters after the JSON object", "\(text)")
        }
        #expect(Self.reason(#"{"subscribe":"a"}\#u{0}"#) == "unexpected characters after the JSON object")
        for text in [
            "", " \n", "{", "{ ", #"{"subscribe""#, #"{"subscribe":"#, #"{"subscribe":"a"#, #"{"subscribe":"a""#,
            #"{"subscribe":"a","#, #"{"subscribe":"a","since":{"offset":1,"epoch":"e"}"#, #"{"publish":"a","data":"#,
            #"{"publish":"a","data":"x"#, #"{"publish":"a","data":1,"echo":"#,
        ] {
            #expect(Self.reason(text) == "truncated JSON", "\(text)")
        }
        #expect(Self.reason(#"{"subscribe":"a" "publish":"b"}"#) == "expected ',' or '}'")
        #expect(Self.reason(#"{"subscribe":"a",}"#) == "expected a string key")
        #expect(Self.reason(#"{"subscribe" "a"}"#) == "expected ':' after a key")
    }
}
