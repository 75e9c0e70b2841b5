import Testing

@testable import ChorusCore

@Suite("ChannelList: the channels an upgrade names")
struct ChannelListTests {
    private func name(_ text: String) throws -> ChannelName { try ChannelName(validating: text) }

    @Test("keeps the order of first appearance and drops duplicates, the inline two or in the rest")
    func orderAndDuplicates() throws {
        var list = ChannelList()
        #expect(list.isEmpty && list.count == 0 && Array(list).isEmpty)
        for text in ["news", "sports", "news", "weather", "sports", "news", "tides", "weather"] {
            list.appendIfAbsent(try self.name(text))
        }
        #expect(list.count == 4 && !list.isEmpty)
        #expect(list.map(\.value) == ["news", "sports", "weather", "tides"])
        // Iterating twice gives the same channels (the iterator does not consume the list).
        #expect(Array(list) == Array(list))
    }

    @Test("one and two channels, and equality by content")
    func single() throws {
        let one: ChannelList = [try self.name("a")]
        #expect(one.count == 1 && one.map(\.value) == ["a"])
        #expect(one == [try self.name("a"), try self.name("a")])
        #expect(one != [try self.name("a"), try self.name("b")])
        let two: ChannelList = [try self.name("a"), try self.name("b"), try self.name("b")]
        #expect(two.count == 2 && two.map(\.value) == ["a", "b"])
    }
}
