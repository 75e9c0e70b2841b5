import NIOCore

/// A free list of equally sized buffers for assembling inbound messages and stashing partial frames.
///
/// Connections borrow a buffer only while a message or frame is incomplete and give it back right after,
/// so an idle connection holds no inbound memory. Buffers that grew past `bufferCapacity` are dropped on
/// release: one 64 KiB message must not pin 64 KiB for the life of the process.
package final class InboundBufferPool {
    private let allocator: ByteBufferAllocator
    /// Capacity of every pooled buffer.
    package let bufferCapacity: Int
    /// Upper bound on idle buffers kept, so a burst does not leave a large pool behind.
    package let maxFreeBuffers: Int
    private var free: [ByteBuffer] = []

    /// Buffers handed out by `acquire`.
    package private(set) var acquired = 0
    /// Acquisitions served from the free list.
    package private(set) var hits = 0
    /// Acquisitions that had to allocate.
    package private(set) var misses = 0
    /// Sum of the capacities of the buffers on the free list.
    package private(set) var bytesHeld = 0

    /// Buffers currently on the free list.
    package var freeBuffers: Int {
        self.free.count
    }

    package init(allocator: ByteBufferAllocator, bufferCapacity: Int = 4096, maxFreeBuffers: Int = 64) {
        precondition(bufferCapacity > 0, "bufferCapacity must be positive")
        precondition(maxFreeBuffers >= 0, "maxFreeBuffers must not be negative")
        self.allocator = allocator
        self.bufferCapacity = bufferCapacity
        self.maxFreeBuffers = maxFreeBuffers
    }

    /// Returns an empty buffer with room for at least `minimumCapacity` bytes.
    package func acquire(minimumCapacity: Int) -> ByteBuffer {
        self.acquired += 1
        if minimumCapacity <= self.bufferCapacity, let buffer = self.free.popLast() {
            self.hits += 1
            self.bytesHeld -= buffer.capacity
            return buffer
        }
        self.misses += 1
        return self.allocator.buffer(capacity: max(self.bufferCapacity, minimumCapacity))
    }

    /// Takes a buffer back; keeps it only if it still has the pooled size and the free list has room.
    /// `consuming`: the caller's reference moves in, so a buffer nobody else holds is seen as unshared.
    package func release(_ returned: consuming ByteBuffer) {
        guard returned.capacity == self.bufferCapacity, self.free.count < self.maxFreeBuffers else { return }
        var buffer = consume returned
        // Drops a caller's stale view; if someone still shares the storage, clear() gives us fresh storage.
        buffer.clear()
        self.bytesHeld += buffer.capacity
        self.free.append(buffer)
    }
}

@available(*, unavailable)
extension InboundBufferPool: Sendable {}
