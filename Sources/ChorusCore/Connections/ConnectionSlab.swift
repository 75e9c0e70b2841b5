/// A shard's metadata blocks: one contiguous array plus a free list of released indices.
///
/// Must only be used on its shard's event loop; nothing here is locked.
package struct ConnectionSlab {
    /// Every block ever allocated, in use or free.
    package private(set) var blocks: [ConnectionBlock] = []
    private var freeList: [UInt32] = []
    /// Blocks created because the free list was empty.
    package private(set) var allocatedTotal = 0
    /// Acquisitions served from the free list.
    package private(set) var reusedTotal = 0

    package init() {}

    /// Reserves room for `connections` blocks (and as many free-list entries) in one allocation each. Growing by
    /// doubling instead leaves each outgrown array behind in the allocator's arena while it is under glibc's
    /// dynamic mmap threshold (~40 B per connection at 18,000, measured); a reservation this large is mapped on
    /// its own, and pages that no block touches stay out of resident memory.
    package mutating func reserveCapacity(_ connections: Int) {
        self.blocks.reserveCapacity(connections)
        self.freeList.reserveCapacity(connections)
    }

    /// Blocks owned by a live connection.
    package var inUse: Int { self.blocks.count - self.freeList.count }
    /// Blocks waiting on the free list.
    package var free: Int { self.freeList.count }

    /// Takes a block (a released one first) for a new connection and returns its handle.
    package mutating func acquire(sink: any ConnectionSink, tick: UInt32) -> ConnectionID {
        let index: UInt32
        if let reused = self.freeList.popLast() {
            index = reused
            self.reusedTotal += 1
        } else {
            index = UInt32(self.blocks.count)
            self.blocks.append(ConnectionBlock(generation: 0))
            self.allocatedTotal += 1
        }
        self.blocks[Int(index)].sink = sink
        self.blocks[Int(index)].lastSeenTick = tick
        return ConnectionID(index: index, generation: self.blocks[Int(index)].generation)
    }

    /// True when `id` names the block's current owner.
    package func isValid(_ id: ConnectionID) -> Bool {
        Int(id.index) < self.blocks.count && self.blocks[Int(id.index)].generation == id.generation
            && self.blocks[Int(id.index)].isInUse
    }

    /// Resets the block and puts it on the free list. Returns false (and does nothing) for a stale handle.
    @discardableResult
    package mutating func release(_ id: ConnectionID) -> Bool {
        guard self.isValid(id) else { return false }
        let index = Int(id.index)
        // A fresh value resets every field; only the bumped generation carries over.
        self.blocks[index] = ConnectionBlock(generation: self.blocks[index].generation &+ 1)
        self.freeList.append(id.index)
        return true
    }

    /// The block at `index`, unchecked: the shard's own subscriber lists hold only live indices.
    package subscript(index index: UInt32) -> ConnectionBlock {
        _read { yield self.blocks[Int(index)] }
        _modify { yield &self.blocks[Int(index)] }
    }

    /// The block of `id`, or nil for a stale handle.
    package func block(_ id: ConnectionID) -> ConnectionBlock? {
        self.isValid(id) ? self.blocks[Int(id.index)] : nil
    }
}
