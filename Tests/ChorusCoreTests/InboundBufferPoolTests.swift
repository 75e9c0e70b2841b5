import ChorusCore
import NIOCore
import Testing

@Suite struct InboundBufferPoolTests {
    @Test func hitsAndMisses() {
        let pool = InboundBufferPool(allocator: ByteBufferAllocator(), bufferCapacity: 1024, maxFreeBuffers: 4)
        var first = pool.acquire(minimumCapacity: 10)
        #expect(pool.acquired == 1 && pool.hits == 0 && pool.misses == 1)
        #expect(first.capacity == 1024)
        first.writeString("hello")
        pool.release(first)
        #expect(pool.freeBuffers == 1)
        #expect(pool.bytesHeld == 1024)

        let second = pool.acquire(minimumCapacity: 1024)
        #expect(pool.acquired == 2 && pool.hits == 1 && pool.misses == 1)
        #expect(second.readerIndex == 0 && second.writerIndex == 0)
        #expect(pool.freeBuffers == 0 && pool.bytesHeld == 0)
        pool.release(second)

        // Too big for a pooled buffer: a miss even though one is free, and it allocates what was asked for.
        let big = pool.acquire(minimumCapacity: 5000)
        #expect(pool.misses == 2 && pool.hits == 1)
        #expect(big.capacity >= 5000)
        #expect(pool.freeBuffers == 1)
        pool.release(big)
        #expect(pool.freeBuffers == 1, "larger buffers are dropped")
        #expect(pool.bytesHeld == 1024)
    }

    @Test func grownBuffersAreDropped() {
        let pool = InboundBufferPool(allocator: ByteBufferAllocator(), bufferCapacity: 256)
        var buffer = pool.acquire(minimumCapacity: 0)
        buffer.writeBytes([UInt8](repeating: 1, count: 64 * 1024))
        pool.release(buffer)
        #expect(pool.freeBuffers == 0)
        #expect(pool.bytesHeld == 0)
    }

    @Test func freeListIsBounded() {
        let pool = InboundBufferPool(allocator: ByteBufferAllocator(), bufferCapacity: 128, maxFreeBuffers: 2)
        let buffers = (0..<5).map { _ in pool.acquire(minimumCapacity: 1) }
        for buffer in buffers { pool.release(buffer) }
        #expect(pool.freeBuffers == 2)
        #expect(pool.bytesHeld == 256)
    }

    @Test func releasedBufferStillSharedByCallerStaysIntact() {
        let pool = InboundBufferPool(allocator: ByteBufferAllocator(), bufferCapacity: 128)
        var buffer = pool.acquire(minimumCapacity: 1)
        buffer.writeString("kept")
        let kept = buffer
        pool.release(buffer)
        var reused = pool.acquire(minimumCapacity: 1)
        reused.writeString("XXXX")
        #expect(String(buffer: kept) == "kept")
    }
}
