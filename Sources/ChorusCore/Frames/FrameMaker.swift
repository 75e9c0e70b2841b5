import NIOCore

/// Where a frame written piece by piece gets its storage: a buffer of its own (`ExactFrames`), or a slice of a chunk
/// shared with other frames (`FrameArena`).
package protocol FrameMaker {
    /// A data frame of `payloadLength` bytes that `writePayload` writes after the header.
    mutating func frame(
        opcode: WebSocketOpcode,
        payloadLength: Int,
        writePayload: (inout ByteBuffer) -> Void
    ) -> Frame
}

/// Each frame in a buffer of exactly its size.
package struct ExactFrames: FrameMaker {
    package init() {}

    package mutating func frame(
        opcode: WebSocketOpcode,
        payloadLength: Int,
        writePayload: (inout ByteBuffer) -> Void
    ) -> Frame {
        Frame(opcode: opcode, payloadLength: payloadLength, writePayload: writePayload)
    }
}
