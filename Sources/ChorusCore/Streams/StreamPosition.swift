/// Where a message stands in its channel's stream: its offset (1, 2, 3 … one per message) within an epoch.
public struct StreamPosition: Hashable, Sendable {
    public var offset: UInt64
    public var epoch: Epoch

    public init(offset: UInt64, epoch: Epoch) {
        self.offset = offset
        self.epoch = epoch
    }
}
