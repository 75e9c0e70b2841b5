import NIOCore

/// Each loop's `HTTPDeadlines`, made on the loops when the server starts: an HTTP connection finds its loop's here.
struct HTTPDeadlinesByLoop: Sendable {
    private let byLoop: [ObjectIdentifier: NIOLoopBound<HTTPDeadlines>]

    /// Makes one on each of `loops` (on the loop itself).
    static func make(on loops: [any EventLoop]) async throws -> Self {
        var byLoop: [ObjectIdentifier: NIOLoopBound<HTTPDeadlines>] = [:]
        for loop in loops {
            byLoop[ObjectIdentifier(loop)] = try await loop.submit { NIOLoopBound(HTTPDeadlines(), eventLoop: loop) }.get()
        }
        return Self(byLoop: byLoop)
    }

    /// The deadlines of `loop` (call on it): one of the loops the server started with.
    func deadlines(on loop: any EventLoop) -> HTTPDeadlines {
        guard let deadlines = self.byLoop[ObjectIdentifier(loop)] else {
            preconditionFailure("Internal inconsistency: an HTTP connection on a loop the server did not start with")
        }
        return deadlines.value
    }
}
