import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A plain TCP connection to the server under test: bytes out, an ordered stream of bytes in.
/// Tests speak HTTP and WebSocket over it by hand, so every byte on the wire is under their control.
final class RawConnection: Sendable {
    let channel: any Channel
    private let inbox: Inbox

    private init(channel: any Channel, inbox: Inbox) {
        self.channel = channel
        self.inbox = inbox
    }

    /// Connects to `host:port`. `receiveBufferSize` shrinks the kernel buffer (for slow-consumer tests).
    static func connect(host: String = "127.0.0.1", port: Int, receiveBufferSize: Int? = nil) async throws
        -> RawConnection
    {
        let inbox = Inbox()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let receiveBufferSize {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferSize))
        }
        let channel = try await bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(Collector(inbox: inbox))
            }
        }.connect(host: host, port: port).get()
        return RawConnection(channel: channel, inbox: inbox)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await self.channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func send(_ text: String) async throws {
        try await self.send(Array(text.utf8))
    }

    /// Stops or resumes reading from the socket (a client that stops reading fills the server's buffers).
    func setReading(_ reading: Bool) async throws {
        try await self.channel.setOption(.autoRead, value: reading).get()
        if reading { self.channel.read() }
    }

    /// Returns exactly `count` bytes, waiting for them; throws `ConnectionClosed` if the peer closes first.
    func read(count: Int, timeout: Duration = .seconds(10)) async throws -> ByteBuffer {
        try await self.inbox.take(timeout: timeout) { pending, _ in
            pending.readableBytes >= count ? pending.readDetached(length: count) : nil
        }
    }

    /// Reads until `delimiter` appears and returns everything up to and including it.
    func read(upTo delimiter: String, timeout: Duration = .seconds(10)) async throws -> String {
        let needle = Array(delimiter.utf8)
        return try await self.inbox.take(timeout: timeout) { pending, _ in
            let view = pending.readableBytesView
            guard view.count >= needle.count else { return nil }
            for start in view.startIndex...(view.endIndex - needle.count)
            where view[start..<(start + needle.count)].elementsEqual(needle) {
                return pending.readString(length: start - view.startIndex + needle.count)
            }
            return nil
        }
    }

    /// Waits until the server closes the connection and returns everything not yet read.
    func readUntilClosed(timeout: Duration = .seconds(10)) async throws -> ByteBuffer {
        try await self.inbox.take(timeout: timeout) { pending, closed in
            guard closed else { return nil }
            defer { pending.clear() }
            return pending.readDetached(length: pending.readableBytes)
        }
    }

    /// True once the server has closed the connection.
    var isClosed: Bool { self.inbox.isClosed }

    func close() async {
        try? await self.channel.close()
    }

    /// Drops the connection the way a vanished network does for the server: a TCP reset (SO_LINGER 0), no close
    /// frame, no FIN.
    func reset() async {
        if let provider = self.channel as? any SocketOptionProvider {
            try? await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        try? await self.channel.close()
    }

    /// Received bytes and the readers waiting for them.
    private final class Inbox: Sendable {
        private struct State {
            var pending = ByteBuffer()
            var closed = false
            var waiter: CheckedContinuation<Void, Never>?
            /// Bumped on every change, so a reader never sleeps through one.
            var version = 0
        }
        private let state = NIOLockedValueBox(State())

        var isClosed: Bool { self.state.withLockedValue { $0.closed } }

        func append(_ chunk: ByteBuffer) {
            let waiter = self.state.withLockedValue { state in
                var chunk = chunk
                if state.pending.readerIndex > 64 * 1024 { state.pending.discardReadBytes() }
                state.pending.writeBuffer(&chunk)
                state.version += 1
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }

        func finish() {
            let waiter = self.state.withLockedValue { state in
                state.closed = true
                state.version += 1
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }

        private func wake() {
            let waiter = self.state.withLockedValue { state in
                state.version += 1
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }

        /// Waits until `extract` returns a value (it sees the pending bytes and whether the peer closed).
        func take<T: Sendable>(
            timeout: Duration,
            _ extract: @escaping @Sendable (inout ByteBuffer, Bool) -> T?
        ) async throws -> T {
            let deadline = ContinuousClock.now + timeout
            let timer = Task {
                try? await Task.sleep(until: deadline)
                self.wake()
            }
            defer { timer.cancel() }
            while true {
                let step: Step<T> = self.state.withLockedValue { state in
                    if let value = extract(&state.pending, state.closed) { return .done(value) }
                    return state.closed ? .closed : .wait(version: state.version)
                }
                switch step {
                case .done(let value): return value
                case .closed: throw ConnectionClosed()
                case .wait(let seen):
                    guard ContinuousClock.now < deadline else { throw TimedOut() }
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let resumeNow = self.state.withLockedValue { state in
                            // Something may have changed between the check above and now.
                            if state.version != seen { return true }
                            state.waiter = continuation
                            return false
                        }
                        if resumeNow { continuation.resume() }
                    }
                }
            }
        }
    }

    private enum Step<T> {
        case done(T)
        case closed
        case wait(version: Int)
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let inbox: Inbox

        init(inbox: Inbox) { self.inbox = inbox }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.inbox.append(Self.unwrapInboundIn(data))
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.inbox.finish()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            // A reset after the server closed is an ending like any other for these tests.
            context.close(promise: nil)
        }
    }
}

extension ByteBuffer {
    /// Reads `length` bytes into a buffer with storage of its own.
    ///
    /// A slice would share storage with the inbox's buffer, which the event loop thread reallocates on
    /// the next append; Swift's reference counts do not order those accesses for ThreadSanitizer, so a
    /// shared slice read on the test's thread shows up as a data race (it did in CI).
    fileprivate mutating func readDetached(length: Int) -> ByteBuffer {
        var copy = ByteBufferAllocator().buffer(capacity: length)
        copy.writeImmutableBuffer(self.readSlice(length: length)!)
        return copy
    }
}

struct ConnectionClosed: Error {}
struct TimedOut: Error {}

/// Runs `body`, failing with `TimedOut` if it takes longer than `timeout` (a bound, not a synchronisation).
func withTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw TimedOut()
        }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}
