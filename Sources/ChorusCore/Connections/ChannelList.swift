/// The channels a connection follows from its upgrade, without duplicates, in order: the first two held inline
/// (most upgrades name one or two, and an array would be an allocation per connection), any more in an array.
package struct ChannelList: Sequence, Equatable, Sendable, ExpressibleByArrayLiteral {
    private var first: ChannelName?
    private var second: ChannelName?
    private var rest: [ChannelName] = []

    package init() {}

    package init(arrayLiteral elements: ChannelName...) {
        self.init(elements)
    }

    /// The channels of `channels`, without duplicates, in order. (An array, not any sequence: a generic
    /// sequence's iterator, unspecialized across modules, costs an allocation.)
    package init(_ channels: [ChannelName]) {
        for channel in channels { self.appendIfAbsent(channel) }
    }

    package var count: Int { self.first == nil ? 0 : self.second == nil ? 1 : 2 + self.rest.count }

    package var isEmpty: Bool { self.first == nil }

    /// Appends `channel` unless the list holds it already.
    package mutating func appendIfAbsent(_ channel: ChannelName) {
        guard let first = self.first else {
            self.first = channel
            return
        }
        guard first != channel else { return }
        guard let second = self.second else {
            self.second = channel
            return
        }
        if second != channel && !self.rest.contains(channel) { self.rest.append(channel) }
    }

    package func makeIterator() -> Iterator {
        Iterator(list: self)
    }

    package struct Iterator: IteratorProtocol {
        private let list: ChannelList
        /// 0 and 1 for the inline two, then 2 + an index into `rest`.
        private var position = 0

        fileprivate init(list: ChannelList) { self.list = list }

        package mutating func next() -> ChannelName? {
            defer { self.position += 1 }
            switch self.position {
            case 0: return self.list.first
            case 1: return self.list.second
            default: return self.position - 2 < self.list.rest.count ? self.list.rest[self.position - 2] : nil
            }
        }
    }
}
