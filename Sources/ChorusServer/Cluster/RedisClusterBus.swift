import ChorusCore
import ChorusRedis
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Cluster mode over Redis pub/sub: publishes go out with `PUBLISH chorus:<channel>` on one connection, and a
/// second connection subscribes to the channels this node has subscribers for (or to `chorus:*`) and hands
/// each message to the hub, which encodes it once for this node's subscribers.
///
/// Faults: when either connection fails, both are closed and made again after an exponential, jittered delay;
/// the subscriptions are restored on the new connection. While Redis is away `publish` answers `.notConnected`
/// and the hub delivers locally. Messages published while a node is disconnected do not reach it (Redis
/// pub/sub keeps nothing).
// @unchecked Sendable: every `var` is touched only on `self.loop` (each entry point hops there first), and
// `status` is behind its own lock.
package final class RedisClusterBus: ClusterBus, @unchecked Sendable {
    /// The loop that owns the bus's state and both connections.
    package let loop: any EventLoop
    private let settings: ClusterSettings
    private let logger: Logger
    private let allocator = ByteBufferAllocator()
    private let status = NIOLockedValueBox(ClusterStatus())
    /// This node's name in messages that leave out one of its connections (random: unique enough among nodes).
    private let node = UInt64.random(in: 1...UInt64.max)

    private enum Phase {
        case idle
        case connecting
        case connected(publisher: RedisConnection, subscriber: RedisConnection)
        case waitingToReconnect(Scheduled<Void>)
        case stopped
    }

    private var phase = Phase.idle
    /// Bumped for every connection attempt, so callbacks from an older attempt are recognised and ignored.
    private var generation = 0
    private var failedAttempts = 0
    private var hasConnected = false
    /// Weak: the hub holds this bus (`Hub.clusterBus`), so a strong reference back would keep both, and the
    /// whole server with them, alive forever (LeakSanitizer found it).
    private weak var hub: Hub?
    private var pingTask: RepeatedTask?
    /// Channels with local subscribers: what the subscriber connection asks Redis for.
    private var wanted = Set<ChannelName>()
    /// Redis channels (or the pattern) Redis confirmed on the current connection.
    private var confirmed = Set<String>()
    private var subscriptionWaiters: [String: [EventLoopPromise<Void>]] = [:]
    private var connectionWaiters: [(connected: Bool, promise: EventLoopPromise<Void>)] = []
    /// SHA1s of `ClusterScripts` that Redis confirmed loading on the current connection, by script.
    private var scriptSHAs: [String: String] = [:]

    package init(settings: ClusterSettings, loop: any EventLoop, logger: Logger) {
        self.settings = settings
        self.loop = loop
        self.logger = logger
    }

    /// Counters and connection state for metrics.
    package var snapshot: ClusterStatus { self.status.withLockedValue { $0 } }

    package var isConnected: Bool { self.status.withLockedValue { $0.connected } }

    /// Connects (and keeps reconnecting) until `shutdown`; messages from Redis go to `hub`.
    package func start(hub: Hub) {
        self.loop.execute {
            guard case .idle = self.phase else { return }
            self.hub = hub
            self.connect()
        }
    }

    /// Closes both connections and stops reconnecting.
    package func shutdown() -> EventLoopFuture<Void> {
        self.loop.submit {
            if case .waitingToReconnect(let task) = self.phase { task.cancel() }
            if case .connected(let publisher, let subscriber) = self.phase {
                publisher.close()
                subscriber.close()
            }
            self.phase = .stopped
            self.pingTask?.cancel()
            self.pingTask = nil
            self.status.withLockedValue { $0.connected = false }
            for waiters in self.subscriptionWaiters.values {
                for waiter in waiters { waiter.fail(RedisError.connectionClosed) }
            }
            for waiter in self.connectionWaiters { waiter.promise.fail(RedisError.connectionClosed) }
            self.subscriptionWaiters = [:]
            self.connectionWaiters = []
        }
    }

    // MARK: ClusterBus

    package func publish(
        _ payload: ByteBuffer,
        opcode: WebSocketOpcode,
        to channel: ChannelName,
        isJSON: Bool,
        excluding publisher: PublisherConnection?,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<ClusterPublishOutcome> {
        let excluded = publisher.map { (node: self.node, connection: $0) }
        let arguments = [
            ClusterMessage.header(opcode: opcode, isJSON: isJSON, excluding: excluded), payload, ByteBuffer(string: Epoch.random().value),
            ByteBuffer(string: String(self.settings.historySize)),
            ByteBuffer(string: String(self.settings.historyTTL.nanoseconds / 1_000_000)),
            ByteBuffer(string: String(self.settings.streamTTL.nanoseconds / 1_000_000)),
            ByteBuffer(string: ClusterMessage.channelPrefix + channel.value),
        ]
        return self.loop.flatSubmit { () -> EventLoopFuture<ClusterPublishOutcome> in
            guard case .connected(let publisher, _) = self.phase else {
                self.status.withLockedValue { $0.publishFailures += 1 }
                return self.loop.makeSucceededFuture(.notConnected)
            }
            return self.run(ClusterScripts.publish, on: publisher, channel: channel, arguments: arguments)
                .flatMapThrowing { reply -> ClusterPublishOutcome in
                    guard let parts = reply.elements, parts.count == 3, case .integer(let offset) = parts[0],
                        let epoch = parts[1].string.flatMap({ Epoch($0) }), case .integer(let receivers) = parts[2],
                        offset > 0
                    else { throw RedisError.unexpectedReply }
                    self.status.withLockedValue { $0.messagesOut += 1 }
                    let position = StreamPosition(offset: UInt64(offset), epoch: epoch)
                    return .sent(receivers: Int(receivers), position: position)
                }.flatMapErrorThrowing { error in
                    self.status.withLockedValue { $0.publishFailures += 1 }
                    throw error
                }
        }.hop(to: eventLoop)
    }

    package func readStream(
        _ channel: ChannelName,
        after offset: UInt64,
        limit: Int,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<ClusterStreamRead> {
        let arguments = [
            ByteBuffer(string: String(offset)), ByteBuffer(string: String(limit)),
            ByteBuffer(string: Epoch.random().value),
            ByteBuffer(string: String(self.settings.streamTTL.nanoseconds / 1_000_000)),
        ]
        return self.loop.flatSubmit { () -> EventLoopFuture<ClusterStreamRead> in
            guard case .connected(let publisher, _) = self.phase else {
                return self.loop.makeFailedFuture(RedisError.connectionClosed)
            }
            return self.run(ClusterScripts.read, on: publisher, channel: channel, arguments: arguments)
                .flatMapThrowing { try Self.streamRead(from: $0) }
        }.hop(to: eventLoop)
    }

    /// The read script's reply as positions and messages.
    private static func streamRead(from reply: RESPValue) throws -> ClusterStreamRead {
        guard let parts = reply.elements else { throw RedisError.unexpectedReply }
        guard !parts.isEmpty else { return ClusterStreamRead(position: nil, messages: []) }
        guard parts.count == 3, let epoch = parts[0].string.flatMap({ Epoch($0) }),
            let offset = parts[1].string.flatMap({ UInt64($0) }), let entries = parts[2].elements
        else { throw RedisError.unexpectedReply }
        var messages: [ClusterStreamRead.Message] = []
        for entry in entries {
            // {id, {"m", message}}
            guard let fields = entry.elements?.last?.elements, fields.count == 2,
                case .bulkString(let bytes?) = fields[1], let decoded = ClusterMessage.decode(bytes),
                let position = decoded.position, position.epoch == epoch
            else { continue }
            messages.append(
                ClusterStreamRead.Message(
                    offset: position.offset,
                    opcode: decoded.opcode,
                    isJSON: decoded.isJSON,
                    payload: decoded.payload
                )
            )
        }
        return ClusterStreamRead(position: StreamPosition(offset: offset, epoch: epoch), messages: messages)
    }

    /// Runs one of `ClusterScripts` by its SHA1 when Redis has it loaded, by its text otherwise (also when Redis lost
    /// it: `NOSCRIPT`).
    private func run(
        _ script: String,
        on publisher: RedisConnection,
        channel: ChannelName,
        arguments: [ByteBuffer]
    ) -> EventLoopFuture<RESPValue> {
        let sha = self.scriptSHAs[script]
        let command = ClusterScripts.command(
            script,
            sha: sha,
            channel: channel,
            arguments: arguments,
            allocator: self.allocator
        )
        let reply = publisher.send(command)
        guard sha != nil else { return reply }
        return reply.flatMapError { error in
            guard case RedisError.server(let message) = error, message.hasPrefix("NOSCRIPT") else {
                return self.loop.makeFailedFuture(error)
            }
            self.scriptSHAs[script] = nil
            let text = ClusterScripts.command(
                script,
                sha: nil,
                channel: channel,
                arguments: arguments,
                allocator: self.allocator
            )
            return publisher.send(text)
        }
    }

    package func interestChanged(in channel: ChannelName, interested: Bool) {
        self.loop.execute {
            if interested {
                self.wanted.insert(channel)
            } else {
                self.wanted.remove(channel)
            }
            guard !self.settings.usePattern, case .connected(_, let subscriber) = self.phase else { return }
            // Redis answers with a confirmation push, handled in `handlePush`.
            let name = ClusterMessage.channelPrefix + channel.value
            subscriber.sendWithoutReply(RESPCommand(interested ? "SUBSCRIBE" : "UNSUBSCRIBE", [name]))
        }
    }

    // MARK: Connecting

    private func connect() {
        self.loop.preconditionInEventLoop()
        self.generation += 1
        let generation = self.generation
        self.phase = .connecting
        let publisher = RedisConnection.connect(
            to: self.settings.url,
            mode: .commands,
            on: self.loop,
            connectTimeout: self.settings.connectTimeout
        )
        let subscriber = RedisConnection.connect(
            to: self.settings.url,
            mode: .subscriber,
            on: self.loop,
            connectTimeout: self.settings.connectTimeout
        ) { value in
            // Runs on the connection's loop, which is `self.loop`.
            self.handlePush(value, generation: generation)
        }
        publisher.and(subscriber).whenComplete { result in
            guard generation == self.generation, case .connecting = self.phase else {
                // Shut down meanwhile: close whatever did connect.
                publisher.whenSuccess { $0.close() }
                subscriber.whenSuccess { $0.close() }
                return
            }
            switch result {
            case .success(let (publisher, subscriber)):
                self.connected(publisher: publisher, subscriber: subscriber, generation: generation)
            case .failure(let error):
                publisher.whenSuccess { $0.close() }
                subscriber.whenSuccess { $0.close() }
                if self.failedAttempts == 0 {
                    self.logger.warning(
                        "cluster: cannot reach redis; delivering locally and retrying",
                        metadata: ["redis": "\(self.settings.url)", "error": "\(error)"]
                    )
                }
                self.scheduleReconnect()
            }
        }
    }

    private func connected(publisher: RedisConnection, subscriber: RedisConnection, generation: Int) {
        self.phase = .connected(publisher: publisher, subscriber: subscriber)
        self.failedAttempts = 0
        // Loaded once per connection; until the answers arrive the scripts go by their text.
        self.scriptSHAs = [:]
        for script in [ClusterScripts.publish, ClusterScripts.read] {
            publisher.send(RESPCommand("SCRIPT", ["LOAD", script])).whenSuccess { reply in
                guard generation == self.generation, let sha = reply.string else { return }
                self.scriptSHAs[script] = sha
            }
        }
        self.confirmed = []
        let isReconnect = self.hasConnected
        self.hasConnected = true
        self.status.withLockedValue {
            $0.connected = true
            if isReconnect { $0.reconnects += 1 }
        }
        self.logger.info(
            "cluster: connected to redis",
            metadata: ["redis": "\(self.settings.url)", "pattern": "\(self.settings.usePattern)"]
        )
        // Restore the subscriptions (all of them on a first connect too: clients may have come first).
        if self.settings.usePattern {
            subscriber.sendWithoutReply(RESPCommand("PSUBSCRIBE", [ClusterMessage.pattern]))
        } else {
            let names = self.wanted.map { ClusterMessage.channelPrefix + $0.value }
            // In batches, so that one command stays a modest size with many channels.
            for start in stride(from: 0, to: names.count, by: 1000) {
                subscriber.sendWithoutReply(RESPCommand("SUBSCRIBE", Array(names[start..<min(start + 1000, names.count)])))
            }
        }
        for connection in [publisher, subscriber] {
            connection.closeFuture.whenComplete { _ in self.lost(generation: generation) }
        }
        self.pingTask = self.loop.scheduleRepeatedTask(
            initialDelay: self.settings.pingInterval,
            delay: self.settings.pingInterval
        ) { _ in
            self.ping(publisher, generation: generation)
        }
        self.wakeConnectionWaiters()
    }

    /// A PING that is not answered in time means Redis (or the path to it) is gone even if TCP has not noticed.
    private func ping(_ publisher: RedisConnection, generation: Int) {
        guard generation == self.generation else { return }
        let timeout = self.loop.scheduleTask(in: self.settings.pingTimeout) {
            self.logger.warning("cluster: redis did not answer PING in time; reconnecting")
            publisher.close()
        }
        publisher.send(RESPCommand("PING", [] as [String])).whenComplete { _ in timeout.cancel() }
    }

    private func lost(generation: Int) {
        guard generation == self.generation, case .connected(let publisher, let subscriber) = self.phase else { return }
        publisher.close()
        subscriber.close()
        self.pingTask?.cancel()
        self.pingTask = nil
        self.confirmed = []
        self.status.withLockedValue { $0.connected = false }
        self.logger.warning(
            "cluster: lost the connection to redis; delivering locally until it is back",
            metadata: ["redis": "\(self.settings.url)"]
        )
        self.wakeConnectionWaiters()
        self.scheduleReconnect()
    }

    private func scheduleReconnect() {
        if case .stopped = self.phase { return }
        let delay = self.settings.reconnectDelay(attempt: self.failedAttempts, random: Double.random(in: 0.5...1))
        self.failedAttempts += 1
        self.phase = .waitingToReconnect(self.loop.scheduleTask(in: delay) { self.connect() })
    }

    // MARK: Messages

    private func handlePush(_ value: RESPValue, generation: Int) {
        guard generation == self.generation, let elements = value.elements, let kind = elements.first?.string else {
            return
        }
        switch (kind.lowercased(), elements.count) {
        case ("message", 3):
            self.deliver(channel: elements[1], message: elements[2])
        case ("pmessage", 4):
            self.deliver(channel: elements[2], message: elements[3])
        case ("subscribe", 3), ("psubscribe", 3):
            guard let name = elements[1].string else { return }
            self.confirmed.insert(name)
            for waiter in self.subscriptionWaiters.removeValue(forKey: name) ?? [] { waiter.succeed() }
        case ("unsubscribe", 3), ("punsubscribe", 3):
            guard let name = elements[1].string else { return }
            self.confirmed.remove(name)
        default:
            break
        }
    }

    private func deliver(channel channelValue: RESPValue, message messageValue: RESPValue) {
        guard let hub = self.hub,
            case .bulkString(let redisName?) = channelValue, case .bulkString(let message?) = messageValue,
            let channel = ClusterMessage.channel(fromRedis: redisName),
            let decoded = ClusterMessage.decode(message),
            decoded.payload.readableBytes <= self.settings.maxMessageBytes,
            decoded.opcode == .binary || Self.isValidUTF8(decoded.payload)
        else {
            // Someone else's message on our prefix, or a broken one: never delivered, only counted.
            self.status.withLockedValue { $0.malformed += 1 }
            return
        }
        self.status.withLockedValue { $0.messagesIn += 1 }
        // With a pattern subscription every message arrives; encode only those someone here follows.
        guard hub.interest?.contains(channel) ?? true else { return }
        _ = hub.publish(
            decoded.payload,
            opcode: decoded.opcode,
            to: channel,
            source: .cluster,
            on: self.loop,
            options: PublishOptions(
                isJSON: decoded.isJSON,
                excluded: decoded.excluded.flatMap { $0.node == self.node ? $0.connection : nil },
                position: decoded.position
            )
        )
    }

    private static func isValidUTF8(_ payload: ByteBuffer) -> Bool {
        var validator = UTF8Validator()
        return validator.feed(payload) && validator.isAtCharacterBoundary
    }

    // MARK: Waiting (tests, tooling)

    /// Succeeds once Redis has confirmed the subscription to `channel` (or to the pattern, with
    /// `--redis-pattern`) on the current connection. Fails if the bus shuts down first.
    package func whenSubscribed(to channel: ChannelName) -> EventLoopFuture<Void> {
        self.loop.flatSubmit {
            let name =
                self.settings.usePattern ? ClusterMessage.pattern : ClusterMessage.channelPrefix + channel.value
            if self.confirmed.contains(name) { return self.loop.makeSucceededVoidFuture() }
            if case .stopped = self.phase { return self.loop.makeFailedFuture(RedisError.connectionClosed) }
            let promise = self.loop.makePromise(of: Void.self)
            self.subscriptionWaiters[name, default: []].append(promise)
            return promise.futureResult
        }
    }

    /// Succeeds once the bus is connected (`true`) or disconnected (`false`).
    package func whenConnected(_ connected: Bool) -> EventLoopFuture<Void> {
        self.loop.flatSubmit {
            if self.isConnected == connected { return self.loop.makeSucceededVoidFuture() }
            if case .stopped = self.phase { return self.loop.makeFailedFuture(RedisError.connectionClosed) }
            let promise = self.loop.makePromise(of: Void.self)
            self.connectionWaiters.append((connected, promise))
            return promise.futureResult
        }
    }

    private func wakeConnectionWaiters() {
        let connected = self.isConnected
        var remaining: [(connected: Bool, promise: EventLoopPromise<Void>)] = []
        for waiter in self.connectionWaiters {
            if waiter.connected == connected { waiter.promise.succeed() } else { remaining.append(waiter) }
        }
        self.connectionWaiters = remaining
    }
}
