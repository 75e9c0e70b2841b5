import ChorusRedis
import NIOCore
import NIOPosix
import Testing

/// The RESP client against a real redis-server: login, database, commands, pub/sub pushes, failures.
@Suite("Redis client against redis-server")
struct RedisClientTests {
    /// A Redis 6+ ACL user (each rule its own argument: redis-server joins them into one config line).
    static let aclUser = ["--user", "alice", "on", ">wonderland", "~*", "&*", "+@all"]

    @Test("AUTH with user and password, SELECT the URL's database, commands answered in order")
    func loginAndSelect() async throws {
        try await RedisServerProcess.with(extraArguments: Self.aclUser) { redis in
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let url = try RedisURL(parsing: "redis://alice:wonderland@127.0.0.1:\(redis.port)/3")
            let connection = try await RedisConnection.connect(to: url, mode: .commands, on: loop).get()
            let info = try await connection.send(RESPCommand("CLIENT", ["INFO"])).get().string ?? ""
            #expect(info.contains(" db=3 ") && info.contains(" user=alice "))
            // Pipelined commands, answered in order.
            let replies = [
                connection.send(RESPCommand("SET", ["k", "v"])), connection.send(RESPCommand("GET", ["k"])),
                connection.send(RESPCommand("GET", ["missing"])), connection.send(RESPCommand("PING", [] as [String])),
            ]
            #expect(try await replies[0].get() == .simpleString(ByteBuffer(string: "OK")))
            #expect(try await replies[1].get() == .bulkString(ByteBuffer(string: "v")))
            #expect(try await replies[2].get() == .bulkString(nil))
            #expect(try await replies[3].get() == .simpleString(ByteBuffer(string: "PONG")))
            // An error reply fails that command only.
            await #expect(throws: RedisError.self) { try await connection.send(RESPCommand("NOSUCHCOMMAND", [] as [String])).get() }
            #expect(try await connection.send(RESPCommand("PING", [] as [String])).get() == .simpleString(ByteBuffer(string: "PONG")))
            connection.close()

            let wrong = try RedisURL(parsing: "redis://alice:nope@127.0.0.1:\(redis.port)")
            let refused = await #expect(throws: RedisError.self) {
                _ = try await RedisConnection.connect(to: wrong, mode: .commands, on: loop).get()
            }
            guard case .server(let message)? = refused else {
                Issue.record("expected an error reply, got \(String(describing: refused))")
                return
            }
            #expect(message.hasPrefix("WRONGPASS"))
        }
    }

    @Test("a subscriber connection hands confirmations and messages to onPush; commands fail once Redis is gone")
    func subscribeAndPush() async throws {
        try await RedisServerProcess.with { redis in
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let url = try RedisURL(parsing: redis.url)
            let (pushes, continuation) = AsyncStream<RESPValue>.makeStream()
            let subscriber = try await RedisConnection.connect(to: url, mode: .subscriber, on: loop) { push in
                continuation.yield(push)
            }.get()
            var iterator = pushes.makeAsyncIterator()
            subscriber.sendWithoutReply(RESPCommand("SUBSCRIBE", ["a"]))
            let confirmation = await iterator.next()
            #expect(confirmation?.elements?.first?.string == "subscribe")
            let publisher = try await RedisConnection.connect(to: url, mode: .commands, on: loop).get()
            #expect(try await publisher.send(RESPCommand("PUBLISH", ["a", "hello"])).get() == .integer(1))
            let message = await iterator.next()
            #expect(message?.elements?.map(\.string) == ["message", "a", "hello"])

            await redis.kill()
            try await publisher.closeFuture.get()
            await #expect(throws: RedisError.connectionClosed) {
                try await publisher.send(RESPCommand("PING", [] as [String])).get()
            }
            subscriber.close()
        }
    }

    @Test("a connection to a port nobody listens on fails, and does not hang")
    func refused() async throws {
        let port = try RedisServerProcess.freePort()
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        await #expect(throws: (any Error).self) {
            _ = try await RedisConnection.connect(
                to: RedisURL(host: "127.0.0.1", port: port),
                mode: .commands,
                on: loop,
                connectTimeout: .seconds(1)
            ).get()
        }
    }
}
