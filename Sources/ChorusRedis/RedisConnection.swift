import NIOCore
import NIOPosix

/// One TCP connection to Redis, logged in (`AUTH`) and on its database (`SELECT`).
///
/// Commands may be sent from any thread; replies complete on the connection's event loop, in order. A
/// connection is not reconnected: when it closes (see `closeFuture`), its owner makes a new one.
public final class RedisConnection: Sendable {
    /// How replies are read.
    public enum Mode: Sendable {
        /// Every reply answers the oldest command; RESP3 pushes go to `onPush`.
        case commands
        /// For SUBSCRIBE/PSUBSCRIBE: every array or push (messages and confirmations) goes to `onPush`; other
        /// replies (to AUTH, SELECT) answer commands in order.
        case subscriber
    }

    /// The underlying channel.
    public let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Connects to `url`, logs in and selects its database. `onPush` runs on the connection's event loop.
    public static func connect(
        to url: RedisURL,
        mode: Mode,
        on eventLoop: any EventLoop,
        connectTimeout: TimeAmount = .seconds(2),
        limits: RESPParserLimits = RESPParserLimits(),
        onPush: @escaping @Sendable (RESPValue) -> Void = { _ in }
    ) -> EventLoopFuture<RedisConnection> {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        RESPClientHandler(mode: mode, limits: limits, onPush: onPush)
                    )
                }
            }
            .connect(host: url.host, port: url.port)
            .flatMap { channel in
                let connection = RedisConnection(channel: channel)
                return connection.logIn(url).map { connection }.flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
            }
    }

    private func logIn(_ url: RedisURL) -> EventLoopFuture<Void> {
        var steps: [RESPCommand] = []
        if let password = url.password {
            steps.append(RESPCommand("AUTH", url.username.map { [$0, password] } ?? [password]))
        }
        if url.database != 0 {
            steps.append(RESPCommand("SELECT", [String(url.database)]))
        }
        // Pipelined: both are sent at once, and the first error fails the login.
        let replies = steps.map { self.send($0) }
        return EventLoopFuture.andAllSucceed(replies.map { $0.map { _ in } }, on: self.channel.eventLoop)
    }

    /// Sends `command`; the future completes with its reply, or fails with `RedisError.server` on an error
    /// reply and `.connectionClosed` if the connection goes first.
    public func send(_ command: RESPCommand) -> EventLoopFuture<RESPValue> {
        let reply = self.channel.eventLoop.makePromise(of: RESPValue.self)
        self.channel.writeAndFlush(RESPClientHandler.Request(command: command, reply: reply)).whenFailure { _ in
            reply.fail(RedisError.connectionClosed)
        }
        return reply.futureResult
    }

    /// Sends a command whose answers arrive as pushes (SUBSCRIBE and friends on a subscriber connection).
    public func sendWithoutReply(_ command: RESPCommand) {
        self.channel.writeAndFlush(RESPClientHandler.Request(command: command, reply: nil), promise: nil)
    }

    /// Completes when the connection has closed, for whatever reason.
    public var closeFuture: EventLoopFuture<Void> { self.channel.closeFuture }

    /// Closes the connection; commands still waiting fail with `.connectionClosed`.
    public func close() {
        self.channel.close(promise: nil)
    }
}
