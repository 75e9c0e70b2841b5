/// A channel whose cluster stream skipped offsets on the way to this node: the missing messages are being read from
/// the cluster's history, and what arrives meanwhile is held so that subscribers get everything in offset order.
package struct GapFill: Sendable {
    /// Names this fill, so that a late answer to an abandoned one is ignored.
    package let id: UInt64
    /// The last position delivered here: the fill reads the messages after it.
    package let last: StreamPosition
    /// Arrivals held meanwhile, in arrival order (the first is the one that showed the gap).
    package var held: [HeldArrival] = []

    /// The most arrivals held per fill; past it the fill is given up (a resync) rather than memory spent.
    package static let maxHeld = 1_000

    package init(id: UInt64, last: StreamPosition) {
        self.id = id
        self.last = last
    }
}
