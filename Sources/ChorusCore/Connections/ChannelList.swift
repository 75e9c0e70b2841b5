/// The channels a connection follows from its upgrade, without duplicates, in order: the first held inline
/// (a `/ws/<channel>` upgrade names exactly one, and an array of one would be an allocation per connection), any
/// more in an array.
package struct ChannelList: Sequence, Equatable, Sendable, ExpressibleByArrayLiteral {
    private var first: ChannelName?
    private var rest: [ChannelName] = []

    package init() {}

    package init(arrayLiteral elements: ChannelName...) {
        for element in elements { self.appendIfAbsent(element) }
    }

    package var count: Int { self.first == nil ? 0 : 1 + self.rest.count }

    package var isEmpty: Bool { self.first == nil }

    /// Appends `channel` unless the list holds it already.
    package mutating func appendIfAbsent(_ channel: ChannelName) {
        guard let first = self.first else {
            self.first = channel
            return
        }
        if first != channel && !self.rest.contains(channel) { self.rest.append(channel) }
    }

    package func makeIterator() -> Iterator {
        Iterator(list: self)
    }

    package struct Iterator: IteratorProtocol {
        private let list: ChannelList
        /// -1 for `first`, then indices into `rest`.
        private var position = -1

        fileprivate init(list: ChannelList) { self.list = list }

        package mutating func next() -> ChannelName? {
            defer { self.position += 1 }
            if self.position < 0 { return self.list.first }
            return self.position < self.list.rest.count ? self.list.rest[self.position] : nil
        }
    }
}
