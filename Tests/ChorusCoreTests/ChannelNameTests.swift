import ChorusCore
import Testing

@Suite struct ChannelNameTests {
    @Test(arguments: ["news", "a", "A-Z_a.z:0-9", String(repeating: "x", count: 128), "room:42.general"])
    func valid(name: String) throws {
        let channel = try ChannelName(validating: name)
        #expect(channel.value == name)
        #expect(channel.description == name)
    }

    @Test func fromSubstring() throws {
        let text = "xx/news/yy"
        let channel = try ChannelName(validating: text.split(separator: "/")[1])
        #expect(channel == (try ChannelName(validating: "news")))
    }

    @Test func empty() {
        #expect(throws: ChannelNameError(reason: "channel name is empty")) { try ChannelName(validating: "") }
    }

    @Test func tooLong() {
        #expect(throws: ChannelNameError(reason: "channel name is longer than 128 characters")) {
            try ChannelName(validating: String(repeating: "x", count: 129))
        }
    }

    @Test(arguments: ["a b", "a/b", "é", "news😀", "a\u{0}", "tab\t", "#general", "a,b", "*"])
    func invalidCharacter(name: String) {
        #expect(throws: ChannelNameError(reason: "channel name contains a character outside [A-Za-z0-9_.:-]")) {
            try ChannelName(validating: name)
        }
    }
}
