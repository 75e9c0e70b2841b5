import NIOCore

/// What the cluster holds of a channel's stream (`ClusterBus.readStream`).
public struct ClusterStreamRead: Sendable {
    /// One message of the cluster's history.
    public struct Message: Sendable {
        public var offset: UInt64
        public var opcode: WebSocketOpcode
        public var isJSON: Bool
        public var payload: ByteBuffer

        public init(offset: UInt64, opcode: WebSocketOpcode, isJSON: Bool, payload: ByteBuffer) {
            self.offset = offset
            self.opcode = opcode
            self.isJSON = isJSON
            self.payload = payload
        }
    }

    /// The channel's latest position in the cluster; nil when the cluster has no stream for it.
    public var position: StreamPosition?
    /// Messages after the offset asked for, oldest first.
    public var messages: [Message]

    public init(position: StreamPosition?, messages: [Message]) {
        self.position = position
        self.messages = messages
    }
}
