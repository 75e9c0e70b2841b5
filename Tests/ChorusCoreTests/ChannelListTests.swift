import Testing

@testable import ChorusCore

@Suite("ChannelList: the channels an upgrade names")
struct ChannelListTests {
    private func name(_ text: String) throws -> ChannelName { try ChannelName(validating: text) }

    @Test("keeps the order of first appearance and drops duplicates, inline first or in the rest")
    func orderAndDuplicates() throws {
        var list = ChannelList()
        #expect(list.isEmpty && list.count == 0 && Array(list).isEmpty)
        for text in ["news", "sports", "news", "weather", "sports", "news"] {
            list.appendIfAbsent(try self.name(text))
        }
        #expect(list.count == 3 && !list.isEmpty)
        #expect(list.map(\.value) == ["news", "sports", "weather"])
        // Iterating twice gives the same channels (the iterator does not consume the list).
        #expect(Array(list) == Array(list))
    }

    @Test("one channel, and equality by content")
    func single() throws {
        let one: ChannelList = [try self.name("a")]
        #expect(one.count == 1 && one.map(\.value) == ["a"])
        #expect(one == [try self.name("a"), try self.name("a")])
        #expect(one != [try self.name("a"), try self.name("b")])
    }
}
