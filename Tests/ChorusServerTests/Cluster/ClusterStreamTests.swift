import ChorusCore
import ChorusRedis
import ChorusServer
import NIOCore
import NIOPosix
import Testing

/// chorus.v1 in cluster mode: offsets and epochs from Redis, the same on every node; recovery on another node from the
/// Redis stream; a new epoch when Redis loses the channel; a resync when a node misses messages.
@Suite("Cluster streams through Redis")
struct ClusterStreamTests {
    static func configuration(_ redis: RedisServerProcess) throws -> ServerConfiguration {
        var configuration = try ClusterTests.configuration(redis)
        configuration.historySize = 100
        return configuration
    }

    @Test("both nodes deliver the same offsets and epoch; a client that leaves node A recovers on node B from Redis")
    func sameOffsetsAndRecoveryOnAnotherNode() async throws {
        try await RedisServerProcess.with { redis in
            let configuration = try Self.configuration(redis)
            try await TestServer.with(configuration) { a in
                try await TestServer.with(configuration) { b in
                    let same = try ChannelName(validating: "same")
                    let onA = try await ChorusV1Client.connect(port: a.port, path: "/ws/same")
                    let onB = try await ChorusV1Client.connect(port: b.port, path: "/ws/same")
                    for (client, node) in [(onA, a), (onB, b)] {
                        _ = try await client.subscribed("same")
                        try await node.server.cluster!.whenSubscribed(to: same).get()
                    }
                    for index in 1...10 {
                        let response = try await (index % 2 == 0 ? a : b).publish("same", "m\(index)")
                        #expect(response.body.contains(#""clustered":true,"nodes":2,"offset":\#(index),"#))
                    }
                    var epochs = Set<String>()
                    for client in [onA, onB] {
                        for index in 1...10 {
                            let message = try await client.next()
                            #expect(message.deliveryOffset == UInt64(index) && message.string("data") == "m\(index)")
                            epochs.insert(message.string("epoch") ?? "")
                        }
                    }
                    #expect(epochs.count == 1)

                    // Only node A follows "move"; its subscriber drops after five messages.
                    let move = try ChannelName(validating: "move")
                    let leaving = try await ChorusV1Client.connect(port: a.port, path: "/ws/move")
                    let start = try await leaving.subscribed("move")
                    try await a.server.cluster!.whenSubscribed(to: move).get()
                    for index in 1...5 { _ = try await a.publish("move", "v\(index)") }
                    for index in 1...5 { #expect(try await leaving.next().deliveryOffset == UInt64(index)) }
                    await leaving.socket.connection.reset()
                    for index in 6...15 { _ = try await a.publish("move", "v\(index)") }

                    // Node B never followed "move": it reads what was missed from Redis.
                    let moved = try await ChorusV1Client.connect(
                        port: b.port,
                        path: "/ws/move?since=5&epoch=\(start.epoch)"
                    )
                    let answer = try await moved.subscribed("move")
                    #expect(answer.recovered && answer.offset == 15 && answer.epoch == start.epoch)
                    for index in 6...15 {
                        let message = try await moved.next()
                        #expect(message.deliveryOffset == UInt64(index) && message.string("data") == "v\(index)")
                    }
                    try await b.server.cluster!.whenSubscribed(to: move).get()
                    _ = try await a.publish("move", "live")
                    let live = try await moved.next()
                    #expect(live.deliveryOffset == 16 && live.string("epoch") == start.epoch)
                    let metrics = try await ClusterTests.metrics(b)
                    #expect(metrics[#"chorus_recoveries_total{outcome="recovered"}"#] == 1)
                    #expect(metrics["chorus_recovery_replayed_messages_total"] == 10)
                    for client in [onA, onB, moved] { await client.socket.close() }
                }
            }
        }
    }

    @Test("Redis restarted without its data: the channel's next message starts a new epoch, after a resync")
    func redisRestartNewEpoch() async throws {
        try await RedisServerProcess.with { redis in
            try await TestServer.with(try Self.configuration(redis)) { node in
                let channel = try ChannelName(validating: "r")
                let client = try await ChorusV1Client.connect(port: node.port, path: "/ws/r")
                _ = try await client.subscribed("r")
                try await node.server.cluster!.whenSubscribed(to: channel).get()
                _ = try await node.publish("r", "one")
                _ = try await node.publish("r", "two")
                _ = try await client.next()
                let before = try await client.next()
                let oldEpoch = try #require(before.string("epoch"))

                await redis.kill()
                try await node.server.cluster!.whenConnected(false).get()
                try await redis.launch()
                try await node.server.cluster!.whenConnected(true).get()
                try await node.server.cluster!.whenSubscribed(to: channel).get()
                _ = try await node.publish("r", "three")
                let resync = try await client.next()
                #expect(
                    resync.string("resync") == "r" && resync.deliveryOffset == 2 && resync.string("epoch") == oldEpoch
                )
                let after = try await client.next()
                #expect(
                    after.deliveryOffset == 1 && after.string("data") == "three" && after.string("epoch") != oldEpoch
                )
                let metrics = try await ClusterTests.metrics(node)
                #expect(metrics[#"chorus_resyncs_total{reason="epoch"}"#] == 1)
                await client.socket.close()
            }
        }
    }

    @Test("a node that sees an offset skipped tells its chorus.v1 subscribers to resync; raw ones get the message")
    func gapResync() async throws {
        try await RedisServerProcess.with { redis in
            try await TestServer.with(try Self.configuration(redis)) { node in
                let channel = try ChannelName(validating: "g")
                let client = try await ChorusV1Client.connect(port: node.port, path: "/ws/g")
                let raw = try await TestWebSocket.connect(port: node.port, path: "/ws/g")
                _ = try await client.subscribed("g")
                try await node.server.cluster!.whenSubscribed(to: channel).get()
                _ = try await node.publish("g", "one")
                #expect(try await client.next().deliveryOffset == 1)
                // Offsets 2 and 3 are taken in Redis but never reach this node.
                let redisClient = try await RedisConnection.connect(
                    to: try RedisURL(parsing: redis.url),
                    mode: .commands,
                    on: MultiThreadedEventLoopGroup.singleton.next()
                ).get()
                _ = try await redisClient.send(RESPCommand("HINCRBY", ["chorus:meta:g", "offset", "2"])).get()
                redisClient.close()
                _ = try await node.publish("g", "four")
                let resync = try await client.next()
                #expect(resync.string("resync") == "g" && resync.deliveryOffset == 1)
                #expect(try await client.next().deliveryOffset == 4)
                #expect(try await raw.nextMessage().text == "one")
                #expect(try await raw.nextMessage().text == "four")
                #expect(try await ClusterTests.metrics(node)[#"chorus_resyncs_total{reason="gap"}"#] == 1)
                await client.socket.close()
                await raw.close()
            }
        }
    }

    @Test("a node that sees offsets skipped reads them back from the Redis stream: every message in order, no resync")
    func gapFilledFromRedis() async throws {
        try await RedisServerProcess.with { redis in
            try await TestServer.with(try Self.configuration(redis)) { node in
                let channel = try ChannelName(validating: "f")
                let client = try await ChorusV1Client.connect(port: node.port, path: "/ws/f")
                let raw = try await TestWebSocket.connect(port: node.port, path: "/ws/f")
                _ = try await client.subscribed("f")
                try await node.server.cluster!.whenSubscribed(to: channel).get()
                _ = try await node.publish("f", "one")
                #expect(try await client.next().deliveryOffset == 1)
                // "two" and "three" go through the publish script into the channel's stream, but out on a Redis
                // channel nobody follows: this node never receives them.
                let redisClient = try await RedisConnection.connect(
                    to: try RedisURL(parsing: redis.url),
                    mode: .commands,
                    on: MultiThreadedEventLoopGroup.singleton.next()
                ).get()
                for text in ["two", "three"] {
                    let arguments = [
                        ClusterMessage.header(opcode: .text, isJSON: false), ByteBuffer(string: text),
                        ByteBuffer(string: "unused00"), ByteBuffer(string: "100"), ByteBuffer(string: "60000"),
                        ByteBuffer(string: "60000"), ByteBuffer(string: "elsewhere"),
                    ]
                    let command = ClusterScripts.command(
                        ClusterScripts.publish,
                        sha: nil,
                        channel: channel,
                        arguments: arguments,
                        allocator: ByteBufferAllocator()
                    )
                    _ = try await redisClient.send(command).get()
                }
                redisClient.close()
                // "five" may arrive while "four"'s gap is being read: it waits behind it.
                _ = try await node.publish("f", "four")
                _ = try await node.publish("f", "five")
                for (offset, text) in [(2, "two"), (3, "three"), (4, "four"), (5, "five")] {
                    let message = try await client.next()
                    #expect(message.deliveryOffset == UInt64(offset) && message.string("data") == text)
                }
                for text in ["one", "two", "three", "four", "five"] {
                    #expect(try await raw.nextMessage().text == text)
                }
                let metrics = try await ClusterTests.metrics(node)
                #expect(metrics["chorus_cluster_gaps_filled_total"] == 1)
                #expect(metrics["chorus_cluster_gap_filled_messages_total"] == 2)
                #expect(metrics[#"chorus_resyncs_total{reason="gap"}"#] == 0)
                await client.socket.close()
                await raw.close()
            }
        }
    }
}
