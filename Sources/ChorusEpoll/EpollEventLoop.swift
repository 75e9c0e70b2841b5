#if os(Linux)
    import CEpoll
    import Dispatch
    import Glibc
    import NIOConcurrencyHelpers
    import NIOCore

    /// Told about readiness of the descriptors registered with an `EpollEventLoop`. Called on the loop only.
    package protocol EpollReadinessHandler: AnyObject {
        /// `token` is what the descriptor was registered with; `events` the epoll flags.
        func ready(token: UInt64, events: UInt32)
        /// Takes over an accepted socket another loop handed to this one (`EpollEventLoop.adopt`).
        func adopt(_ fd: Int32)
        /// The loop has run its tasks, timers and readiness events and is about to wait: write what they produced.
        func flushWrites()
        /// The loop is about to exit (shutdown): close every descriptor still held.
        func loopWillExit()
    }

    /// One thread with its own epoll instance that is also a NIO `EventLoop`, so the engine (hub, shards,
    /// promises, scheduled tasks) runs on it unchanged.
    ///
    /// Cross-thread work (`execute`, tasks scheduled from elsewhere) goes through one locked queue and wakes the
    /// loop through an eventfd, at most once per batch: a publish to N shards costs N wake-ups, never one per
    /// subscriber. Timers live in a heap touched only on the loop.
    package final class EpollEventLoop: EventLoop, @unchecked Sendable {
        // @unchecked: `epollFD`, `wakeFD` and `threadID` are set once before the loop is shared; `inbox` is
        // locked; everything else (`timers`, `handler`) is touched only on the loop's own thread.

        /// The token the wake-up eventfd is registered with (descriptor tokens never use it).
        private static let wakeToken = UInt64.max

        private let epollFD: Int32
        private let wakeFD: Int32
        private var threadID = pthread_t()
        private let inbox = NIOLockedValueBox(Inbox())
        private var timers = TimerHeap()
        /// The loop's own repeating tick (`startTicking`): no task, promise or timer object per firing, where a
        /// NIO `RepeatedTask` allocates several each time.
        private var ticker: Ticker?
        private var running: [@Sendable () -> Void] = []
        /// The readiness handler of this loop's descriptors (its transport). Set on the loop.
        package var handler: (any EpollReadinessHandler)?
        private let name: String

        private struct Ticker {
            let interval: TimeAmount
            var next: NIODeadline
            let body: () -> Void
        }

        private struct Inbox {
            var tasks: [@Sendable () -> Void] = []
            /// Accepted sockets handed over by the accepting loop.
            var adopted: [Int32] = []
            /// True once the loop was woken for `tasks` and has not yet taken them.
            var woken = false
            var shutdown: [(DispatchQueue, @Sendable ((any Error)?) -> Void)] = []
            var isShuttingDown = false
            var hasExited = false
        }

        /// Starts the loop's thread.
        package init(name: String) throws {
            let epollFD = chorus_epoll_create()
            guard epollFD >= 0 else { throw EpollError.system("epoll_create1", errno) }
            let wakeFD = chorus_eventfd()
            guard wakeFD >= 0 else {
                Glibc.close(epollFD)
                throw EpollError.system("eventfd", errno)
            }
            guard chorus_epoll_add(epollFD, wakeFD, CHORUS_EPOLLIN, Self.wakeToken) == 0 else {
                Glibc.close(epollFD)
                Glibc.close(wakeFD)
                throw EpollError.system("epoll_ctl", errno)
            }
            self.epollFD = epollFD
            self.wakeFD = wakeFD
            self.name = name
            let started = ConditionLock(value: false)
            let box = Unmanaged.passRetained(ThreadStart(loop: self, started: started))
            var thread = pthread_t()
            let result = pthread_create(
                &thread,
                nil,
                { argument in
                    let start = Unmanaged<ThreadStart>.fromOpaque(argument!).takeRetainedValue()
                    start.loop.threadID = pthread_self()
                    start.started.lock()
                    start.started.unlock(withValue: true)
                    start.loop.run()
                    return nil
                },
                box.toOpaque()
            )
            guard result == 0 else {
                box.release()
                throw EpollError.system("pthread_create", result)
            }
            pthread_detach(thread)
            started.lock(whenValue: true)
            started.unlock()
        }

        private final class ThreadStart {
            let loop: EpollEventLoop
            let started: ConditionLock<Bool>
            init(loop: EpollEventLoop, started: ConditionLock<Bool>) {
                self.loop = loop
                self.started = started
            }
        }

        // MARK: Descriptors

        /// Registers `fd` for `events` with `token` (EPOLL_CTL_ADD). Call on the loop.
        package func register(_ fd: Int32, events: UInt32, token: UInt64) -> Bool {
            chorus_epoll_add(self.epollFD, fd, events, token) == 0
        }

        /// Changes what `fd` is watched for (EPOLL_CTL_MOD). Call on the loop.
        package func modify(_ fd: Int32, events: UInt32, token: UInt64) {
            _ = chorus_epoll_modify(self.epollFD, fd, events, token)
        }

        /// Stops watching `fd` (EPOLL_CTL_DEL); closing a descriptor also does this.
        package func deregister(_ fd: Int32) {
            _ = chorus_epoll_delete(self.epollFD, fd)
        }

        /// Hands an accepted socket to this loop, from any thread: one array append under the lock and at most
        /// one wake-up, no allocation per connection once the array has grown.
        package func adopt(_ fd: Int32) {
            let wake = self.inbox.withLockedValue { inbox -> Bool in
                if inbox.hasExited { return false }
                inbox.adopted.append(fd)
                defer { inbox.woken = true }
                return !inbox.woken
            }
            if wake { self.wake() }
        }

        /// Calls `body` on the loop every `interval` (first after one interval) until the loop exits; a second
        /// call replaces the first. Call on the loop. Firing allocates nothing.
        package func startTicking(every interval: TimeAmount, _ body: @escaping () -> Void) {
            self.preconditionInEventLoop()
            self.ticker = Ticker(interval: interval, next: .now() + interval, body: body)
        }

        // MARK: EventLoop

        package var inEventLoop: Bool { pthread_equal(pthread_self(), self.threadID) != 0 }

        package func execute(_ task: @escaping @Sendable () -> Void) {
            let wake = self.inbox.withLockedValue { inbox -> Bool in
                inbox.tasks.append(task)
                defer { inbox.woken = true }
                return !inbox.woken
            }
            if wake { self.wake() }
        }

        package func scheduleTask<T>(
            deadline: NIODeadline,
            _ task: @escaping @Sendable () throws -> T
        ) -> Scheduled<T> {
            let promise = self.makePromise(of: T.self)
            let timer = ScheduledTimer {
                // Timers fire on the loop, where the promise may take a non-Sendable value.
                do { promise.assumeIsolated().succeed(try task()) } catch { promise.fail(error) }
            }
            let add: @Sendable () -> Void = { self.timers.insert(deadline: deadline, timer) }
            if self.inEventLoop { add() } else { self.execute(add) }
            return Scheduled(promise: promise) {
                // Cancelling on any thread: the flag is read on the loop before running the task.
                timer.cancel()
                promise.fail(EventLoopError.cancelled)
            }
        }

        package func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T>
        {
            self.scheduleTask(deadline: .now() + delay, task)
        }

        package func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
            let (alreadyExited, wake) = self.inbox.withLockedValue { inbox -> (Bool, Bool) in
                if inbox.hasExited { return (true, false) }
                inbox.shutdown.append((queue, callback))
                inbox.isShuttingDown = true
                defer { inbox.woken = true }
                return (false, !inbox.woken)
            }
            if alreadyExited {
                queue.async { callback(nil) }
            } else if wake {
                self.wake()
            }
        }

        package var description: String { "EpollEventLoop(\(self.name))" }

        // MARK: The loop

        private func wake() {
            var one: UInt64 = 1
            _ = withUnsafeBytes(of: &one) { write(self.wakeFD, $0.baseAddress, 8) }
        }

        private func run() {
            var tokens = [UInt64](repeating: 0, count: 256)
            var flags = [UInt32](repeating: 0, count: 256)
            var adopted: [Int32] = []
            while true {
                let (shutdown, hasTasks) = self.takeTasks(adopted: &adopted)
                for fd in adopted {
                    if let handler = self.handler { handler.adopt(fd) } else { Glibc.close(fd) }
                }
                adopted.removeAll(keepingCapacity: true)
                self.runTakenTasks()
                if shutdown && !hasTasks { break }
                self.runDueTimers()
                self.runTicker()
                self.handler?.flushWrites()
                let timeout = self.inbox.withLockedValue { $0.tasks.isEmpty } ? self.waitMilliseconds() : 0
                let count = tokens.withUnsafeMutableBufferPointer { tokens in
                    flags.withUnsafeMutableBufferPointer { flags in
                        chorus_epoll_wait(self.epollFD, tokens.baseAddress, flags.baseAddress, 256, timeout)
                    }
                }
                if count < 0 {
                    if errno == EINTR { continue }
                    fatalError("epoll_wait failed: errno \(errno)")
                }
                for index in 0..<Int(count) {
                    if tokens[index] == Self.wakeToken {
                        var value: UInt64 = 0
                        _ = withUnsafeMutableBytes(of: &value) { read(self.wakeFD, $0.baseAddress, 8) }
                    } else {
                        self.handler?.ready(token: tokens[index], events: flags[index])
                    }
                }
            }
            self.handler?.loopWillExit()
            self.handler = nil
            // Its body may hold the handler.
            self.ticker = nil
            self.timers.removeAll()
            let (callbacks, orphans) = self.inbox.withLockedValue { inbox in
                inbox.hasExited = true
                defer {
                    inbox.shutdown = []
                    inbox.adopted = []
                }
                return (inbox.shutdown, inbox.adopted)
            }
            for fd in orphans { Glibc.close(fd) }
            Glibc.close(self.epollFD)
            Glibc.close(self.wakeFD)
            for (queue, callback) in callbacks { queue.async { callback(nil) } }
        }

        /// Moves the queued tasks into `running` (swapping arrays, so steady state allocates nothing).
        private func takeTasks(adopted: inout [Int32]) -> (shutdown: Bool, hadTasks: Bool) {
            self.inbox.withLockedValue { inbox in
                swap(&inbox.tasks, &self.running)
                swap(&inbox.adopted, &adopted)
                inbox.woken = false
                return (inbox.isShuttingDown, !self.running.isEmpty)
            }
        }

        private func runTakenTasks() {
            for task in self.running { task() }
            self.running.removeAll(keepingCapacity: true)
        }

        private func runTicker() {
            guard let ticker = self.ticker else { return }
            let now = NIODeadline.now()
            guard ticker.next <= now else { return }
            // The next tick is an interval after this one ran: a late tick does not bring on a burst.
            self.ticker!.next = now + ticker.interval
            ticker.body()
        }

        /// How long epoll_wait may sleep: until the earliest timer or tick, -1 for no limit.
        private func waitMilliseconds() -> Int32 {
            let timers = self.timers.timeoutMilliseconds()
            guard let ticker = self.ticker else { return timers }
            let now = NIODeadline.now()
            let untilTick =
                ticker.next <= now ? 0 : Int32(clamping: ((ticker.next - now).nanoseconds + 999_999) / 1_000_000)
            return timers < 0 ? untilTick : min(timers, untilTick)
        }

        private func runDueTimers() {
            let now = NIODeadline.now()
            while let timer = self.timers.popDue(now: now) {
                timer.fire()
            }
        }
    }

    /// What an `EpollEventLoop` failed to set up.
    package enum EpollError: Error, CustomStringConvertible {
        case system(String, Int32)

        package var description: String {
            switch self {
            case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
            }
        }
    }
#endif
