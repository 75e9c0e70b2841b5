import NIOCore
import Testing

@testable import ChorusCore

/// The loop's close-handshake deadlines: fixed-delay timers in a ring, popped in the order set.
@Suite("Loop deadlines: the fixed-delay ring and the tick")
struct DeadlineQueueTests {
    @Test("deadlines come due in the order they were set, and only once due")
    func popsInOrderWhenDue() {
        var queue = DeadlineQueue()
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        for key in UInt64(0)..<5 {
            queue.add(key, deadline: start + .milliseconds(Int64(key) * 10))
        }
        #expect(queue.popDue(now: start - .nanoseconds(1)) == nil)
        #expect(queue.popDue(now: start + .milliseconds(25)) == 0)
        #expect(queue.popDue(now: start + .milliseconds(25)) == 1)
        #expect(queue.popDue(now: start + .milliseconds(25)) == 2)
        #expect(queue.popDue(now: start + .milliseconds(25)) == nil)
        #expect(queue.count == 2)
        #expect(queue.popDue(now: start + .seconds(1)) == 3)
        #expect(queue.popDue(now: start + .seconds(1)) == 4)
        #expect(queue.popDue(now: start + .seconds(1)) == nil)
        #expect(queue.count == 0)
    }

    @Test("setting and expiring after warm-up reuses the ring's storage")
    func keepsCapacity() {
        var queue = DeadlineQueue()
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        // Grow to 1,000 pending, drain, and do it again: the same number fits without the ring growing.
        var capacities: [Int] = []
        for round in 0..<2 {
            for key in UInt64(0)..<1000 { queue.add(key, deadline: start + .milliseconds(Int64(round))) }
            capacities.append(queue.capacity)
            var popped: [UInt64] = []
            while let key = queue.popDue(now: start + .seconds(1)) { popped.append(key) }
            #expect(popped == Array(0..<1000))
        }
        #expect(capacities[0] >= 1000 && capacities[1] == capacities[0])
        #expect(capacities[0] <= DeadlineQueue.retainedCapacity)
    }

    @Test("a ring that grew past what it keeps gives its memory back once drained")
    func shrinksAfterBurst() {
        var queue = DeadlineQueue()
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        for key in UInt64(0)..<5000 { queue.add(key, deadline: start) }
        #expect(queue.capacity >= 5000)
        while queue.popDue(now: start) != nil {}
        #expect(queue.count == 0 && queue.capacity <= DeadlineQueue.retainedCapacity)
    }

    @Test("the tick is an eighth of the shortest delay, between 10 ms and 250 ms")
    func tickInterval() {
        let tick = LoopDeadlines.tickInterval
        #expect(tick(.seconds(10), .seconds(5), .seconds(30)) == .milliseconds(250))
        #expect(tick(.seconds(1), .seconds(5), .seconds(30)) == .milliseconds(125))
        #expect(tick(.seconds(10), .milliseconds(40), .seconds(30)) == .milliseconds(10))
        #expect(tick(.seconds(10), .seconds(5), .milliseconds(400)) == .milliseconds(50))
    }
}
