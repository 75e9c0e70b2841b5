import NIOCore

/// One channel's stream: its epoch, its last offset and its history, linked into the registry's list by last
/// publish (least recent first).
struct ChannelStream {
    /// What a stream costs the budget beyond its history: this record, its index entry, its name.
    static let overheadBytes = 160

    let channel: ChannelName
    var epoch: Epoch
    /// The epoch and offsets are the cluster's (Redis assigns them); a message this node delivers on its own while
    /// Redis is away forks a local epoch instead of taking an offset the cluster will give to another message.
    var isClusters = false
    /// The offset of the last message published (0 before the first).
    var top: UInt64 = 0
    var history = HistoryRing()
    /// Bytes its history costs the budget.
    var historyBytes = 0
    var lastPublish: NIODeadline
    /// Neighbours in the registry's list by last publish (slot numbers, -1 for none).
    var older: Int32 = -1
    var newer: Int32 = -1

    init(channel: ChannelName, epoch: Epoch, now: NIODeadline) {
        self.channel = channel
        self.epoch = epoch
        self.lastPublish = now
    }

    var position: StreamPosition { StreamPosition(offset: self.top, epoch: self.epoch) }
}
