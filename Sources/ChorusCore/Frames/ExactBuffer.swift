@_spi(CustomByteBufferAllocator) import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Buffers of exactly the size asked for, for frames.
///
/// `ByteBufferAllocator.buffer(capacity:)` rounds the capacity up to a power of two. A frame never grows, and it may
/// live long — queued for a slow consumer, kept in a channel's history — so the rounding would be carried for its
/// whole life: a 1 KiB message framed in 1,090 bytes would hold 2,048. The same two allocations (the bytes and NIO's
/// storage object) as `buffer(capacity:)`; NIO's system allocator frees the bytes with `free`.
package enum ExactBuffer {
    private static let systemAllocator = ByteBufferAllocator()

    /// An empty buffer whose capacity is exactly `capacity` bytes (at least one).
    package static func allocate(capacity: Int) -> ByteBuffer {
        precondition(capacity > 0, "an exact buffer holds at least one byte")
        guard let bytes = malloc(capacity) else { fatalError("out of memory allocating \(capacity) bytes") }
        return ByteBuffer(
            takingOwnershipOf: UnsafeMutableRawBufferPointer(start: bytes, count: capacity),
            allocator: Self.systemAllocator,
            readerIndex: 0,
            writerIndex: 0
        )
    }
}
