/// Names one connection: the index of its metadata block in its shard's slab and the block's generation.
///
/// A block's generation is bumped every time it is released, so a handle kept past its connection's close
/// (a stale handle) no longer matches and is rejected instead of touching the block's next owner.
package struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    /// Position of the block in the slab.
    package let index: UInt32
    /// Generation of the block when this handle was issued.
    package let generation: UInt32

    package init(index: UInt32, generation: UInt32) {
        self.index = index
        self.generation = generation
    }

    package var description: String { "\(self.index).\(self.generation)" }

    /// The handle as one integer (a deadline ring's key).
    package var deadlineKey: UInt64 { UInt64(self.generation) << 32 | UInt64(self.index) }

    package init(deadlineKey: UInt64) {
        self.init(index: UInt32(truncatingIfNeeded: deadlineKey), generation: UInt32(truncatingIfNeeded: deadlineKey >> 32))
    }
}
