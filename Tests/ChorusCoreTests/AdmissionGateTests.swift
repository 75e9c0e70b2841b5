import NIOCore
import Testing

@testable import ChorusCore

/// The pieces of admission that decide without sockets: the upgrade-rate bucket, the memory watermarks'
/// hysteresis and the gate that combines them.
@Suite("Admission: token bucket, memory watermarks, gate")
struct AdmissionGateTests {
    private static let second: UInt64 = 1_000_000_000

    @Test("a full bucket passes a burst of its rate, then a token per 1/rate s, never more than a second's worth")
    func tokenBucket() {
        let start: UInt64 = 5 * Self.second
        var bucket = TokenBucket(rate: 5, now: start)
        func taken(_ attempts: Int, at now: UInt64) -> Int {
            (0..<attempts).filter { _ in bucket.take(now: now) }.count
        }
        #expect(taken(20, at: start) == 5)
        #expect(!bucket.hasToken(now: start + Self.second / 5 - 1))
        #expect(bucket.hasToken(now: start + Self.second / 5))
        #expect(taken(2, at: start + Self.second / 5) == 1)
        // An hour idle refills one second's worth, not an hour's.
        let later = start + 3600 * Self.second
        #expect(taken(20, at: later) == 5)
        // A clock read that lags the last update takes nothing extra and breaks nothing.
        #expect(taken(1, at: later - Self.second) == 0)
    }

    @Test("peeking takes nothing")
    func peekTakesNothing() {
        var bucket = TokenBucket(rate: 1, now: 0)
        for _ in 0..<10 { #expect(bucket.hasToken(now: 0)) }
        let took = bucket.take(now: 0)
        #expect(took)
        #expect(!bucket.hasToken(now: 0))
    }

    @Test("memory watermarks: closed at the high watermark, reopened only below the low one")
    func hysteresis() {
        let marks = MemoryWatermarks(limitBytes: 1000, highPercent: 85, lowPercent: 75)
        #expect(marks.highBytes == 850 && marks.lowBytes == 750)
        var admits = true
        var trace: [Bool] = []
        for used in [100, 849, 850, 900, 800, 751, 750, 749, 800, 849, 850] {
            admits = marks.admits(usedBytes: used, wasAdmitting: admits)
            trace.append(admits)
        }
        #expect(trace == [true, true, false, false, false, false, false, true, true, true, false])
    }

    @Test("the gate: memory refuses without taking a token; the rate refuses past the bucket; peek takes nothing")
    func gate() {
        let start = NIODeadline.uptimeNanoseconds(10 * Self.second)
        let gate = AdmissionGate(maxUpgradesPerSecond: 2, now: start)
        gate.memoryAdmits = false
        #expect(gate.admit(now: start) == .memory)
        #expect(gate.peek(now: start) == .memory)
        gate.memoryAdmits = true
        #expect(gate.peek(now: start) == nil)
        #expect(gate.admit(now: start) == nil)
        #expect(gate.admit(now: start) == nil)
        #expect(gate.peek(now: start) == .rate(retryAfter: 1))
        #expect(gate.admit(now: start) == .rate(retryAfter: 1))
        #expect(gate.admit(now: start + .milliseconds(500)) == nil)

        let memoryOnly = AdmissionGate(maxUpgradesPerSecond: nil, now: start)
        #expect((0..<1000).allSatisfy { _ in memoryOnly.admit(now: start) == nil })
        #expect((0..<100).allSatisfy { _ in (5...15).contains(AdmissionGate.Refusal.memory.retryAfterSeconds) })
    }

    @Test("refused clients get turns a token apart, at least a second away: a storm comes back at the admitted rate")
    func retryTurns() {
        let start = NIODeadline.uptimeNanoseconds(10 * Self.second)
        let gate = AdmissionGate(maxUpgradesPerSecond: 5_000, now: start)
        var admitted = 0
        var turns: [Int: Int] = [:]
        // 18,000 clients at once: the bucket's 5,000 pass, the other 13,000 are told 1, 2 or 3 s, 5,000 per second.
        for _ in 0..<18_000 {
            switch gate.admit(now: start) {
            case nil: admitted += 1
            case .rate(let retryAfter): turns[retryAfter, default: 0] += 1
            case .memory: Issue.record("memory is not limited here")
            }
        }
        #expect(admitted == 5_000)
        #expect(turns == [1: 5_000, 2: 5_000, 3: 3_000])
        // A probe names the next free turn without taking it.
        #expect(gate.peek(now: start) == .rate(retryAfter: 3))
        #expect(gate.peek(now: start) == .rate(retryAfter: 3))
        // Later refusals never get a turn sooner than a second, nor later than the longest turn.
        let muchLater = AdmissionGate(maxUpgradesPerSecond: 1, now: start)
        #expect(muchLater.admit(now: start) == nil)
        let told = (0..<100).map { _ -> Int in
            if case .rate(let retryAfter) = muchLater.admit(now: start) { return retryAfter }
            return 0
        }
        #expect(told.first == 1 && told.last == AdmissionGate.maxRetryAfterSeconds && told == told.sorted())
    }
}
