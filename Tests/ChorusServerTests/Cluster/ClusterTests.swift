import ChorusCore
import ChorusRedis
import ChorusServer
import NIOCore
import NIOPosix
import Testing

/// Cluster mode end to end: real redis-server processes, two in-process Chorus nodes, real sockets.
@Suite("Cluster mode through Redis")
struct ClusterTests {
    static func configuration(_ redis: RedisServerProcess, pattern: Bool = false, requireRedis: Bool = false)
        throws -> ServerConfiguration
    {
        let url = try RedisURL(parsing: redis.url)
        return TestServer.configuration {
            $0.redis = url
            $0.redisPattern = pattern
            $0.requireRedis = requireRedis
            $0.clientPublish = true
        }
    }

    static func metrics(_ server: TestServer) async throws -> [String: Double] {
        parseExposition(try await httpRequest(port: server.port, "GET", "/metrics").body)
    }

    @Test(
        "a publish on one node reaches every subscriber on both nodes exactly once and in order, encoded once per node",
        arguments: [false, true]
    )
    func twoNodesExactlyOnce(pattern: Bool) async throws {
        try await RedisServerProcess.with { redis in
            let configuration = try Self.configuration(redis, pattern: pattern)
            try await TestServer.with(configuration) { a in
                try await TestServer.with(configuration) { b in
                    let news = try ChannelName(validating: "news")
                    var subscribers: [TestWebSocket] = []
                    for node in [a, b] {
                        subscribers.append(try await TestWebSocket.connect(port: node.port, path: "/ws/news"))
                        subscribers.append(try await TestWebSocket.connect(port: node.port, path: "/ws?channel=news&channel=x"))
                    }
                    let bystander = try await TestWebSocket.connect(port: b.port, path: "/ws/other")
                    // Redis drops a PUBLISH that arrives before a SUBSCRIBE registered: wait for both nodes.
                    for node in [a, b] { try await node.server.cluster!.whenSubscribed(to: news).get() }
                    // Only B has a subscriber of "other" (with a pattern, both nodes get everything anyway).
                    try await b.server.cluster!.whenSubscribed(to: try ChannelName(validating: "other")).get()

                    let count = 20
                    for index in 0..<count {
                        let response = try await a.publish("news", "m\(index)")
                        #expect(response.status == 200)
                        // Redis gave it the channel's next offset.
                        #expect(response.body.hasPrefix(#"{"channel":"news","clustered":true,"nodes":2,"offset":\#(index + 1),"#))
                    }
                    // The last one from the other node, by a client: Redis orders it after A's confirmed publishes.
                    try await subscribers[2].sendText(#"{"publish":"news","data":"end"}"#)

                    for (index, subscriber) in subscribers.enumerated() {
                        for expected in 0..<count {
                            #expect(try await subscriber.nextMessage().text == "m\(expected)", "subscriber \(index)")
                        }
                        // Nothing twice: any duplicate would have come before this.
                        #expect(try await subscriber.nextMessage().text == "end", "subscriber \(index)")
                    }
                    let other = try await a.publish("other", "only-other")
                    #expect(other.body.hasPrefix(#"{"channel":"other","clustered":true,"nodes":"# + (pattern ? "2," : "1,")))
                    #expect(try await bystander.nextMessage().text == "only-other")

                    // Each node encoded each message once and wrote it to its own two subscribers.
                    for node in [a, b] {
                        let counters = node.server.hub.hubCounters
                        #expect(counters.framesEncoded == count + 1 + (node.port == b.port ? 1 : 0))
                        #expect(counters.published[PublishSource.cluster.rawValue] == counters.framesEncoded)
                        #expect(counters.published[PublishSource.http.rawValue] == 0)
                        #expect(try await node.statistics().deliveries == 2 * (count + 1) + (node.port == b.port ? 1 : 0))
                    }
                    let metricsA = try await Self.metrics(a)
                    #expect(metricsA["chorus_cluster_connected"] == 1)
                    #expect(metricsA[#"chorus_cluster_messages_total{direction="out"}"#] == Double(count + 1))
                    #expect(metricsA[#"chorus_cluster_messages_total{direction="in"}"#] == Double(count + 1 + (pattern ? 1 : 0)))
                    #expect(metricsA["chorus_cluster_publish_failures_total"] == 0)
                    for client in subscribers + [bystander] { await client.close() }
                }
            }
        }
    }

    @Test("Redis killed mid-stream: local delivery goes on, the nodes reconnect, resubscribe and deliver across again")
    func redisKilledAndRestarted() async throws {
        try await RedisServerProcess.with { redis in
            let configuration = try Self.configuration(redis, requireRedis: true)
            try await TestServer.with(configuration) { a in
                try await TestServer.with(configuration) { b in
                    let live = try ChannelName(validating: "live")
                    let onA = try await TestWebSocket.connect(port: a.port, path: "/ws/live")
                    let onB = try await TestWebSocket.connect(port: b.port, path: "/ws/live")
                    for node in [a, b] { try await node.server.cluster!.whenSubscribed(to: live).get() }
                    #expect(try await httpRequest(port: a.port, "GET", "/readyz").status == 200)

                    #expect(try await a.publish("live", "before").status == 200)
                    #expect(try await onA.nextMessage().text == "before")
                    #expect(try await onB.nextMessage().text == "before")

                    await redis.kill()
                    for node in [a, b] { try await node.server.cluster!.whenConnected(false).get() }
                    #expect(try await Self.metrics(a)["chorus_cluster_connected"] == 0)
                    let notReady = try await httpRequest(port: a.port, "GET", "/readyz")
                    #expect(notReady.status == 503 && notReady.body.contains("redis unavailable"))
                    #expect(try await httpRequest(port: a.port, "GET", "/healthz").status == 200)

                    // Local delivery continues on both nodes, and the answer says it stayed local.
                    let localA = try await a.publish("live", "only-a")
                    #expect(localA.status == 200)
                    #expect(localA.body.hasPrefix(#"{"channel":"live","clustered":false,"delivered":1,"offset":"#))
                    #expect(try await onA.nextMessage().text == "only-a")
                    #expect(try await b.publish("live", "only-b").status == 200)
                    #expect(try await onB.nextMessage().text == "only-b")

                    try await redis.launch()
                    for node in [a, b] {
                        try await node.server.cluster!.whenConnected(true).get()
                        // Restored on the new connection (the bus forgets confirmations when a connection goes).
                        try await node.server.cluster!.whenSubscribed(to: live).get()
                    }
                    #expect(try await httpRequest(port: a.port, "GET", "/readyz").status == 200)
                    let after = try await a.publish("live", "after")
                    #expect(after.body.hasPrefix(#"{"channel":"live","clustered":true,"nodes":2,"#))
                    // Each side's next message is "after": neither got the other's local-only message.
                    #expect(try await onA.nextMessage().text == "after")
                    #expect(try await onB.nextMessage().text == "after")

                    let metrics = try await Self.metrics(a)
                    #expect(metrics["chorus_cluster_connected"] == 1)
                    #expect((metrics["chorus_cluster_reconnects_total"] ?? 0) >= 1)
                    #expect(metrics["chorus_cluster_publish_failures_total"] == 1)
                    #expect(metrics[#"chorus_cluster_messages_total{direction="out"}"#] == 2)
                    await onA.close()
                    await onB.close()
                }
            }
        }
    }

    @Test("messages on chorus:* that are not in Chorus's format, or not UTF-8 as text, are dropped, not delivered")
    func foreignMessagesDropped() async throws {
        try await RedisServerProcess.with { redis in
            try await TestServer.with(try Self.configuration(redis)) { node in
                let client = try await TestWebSocket.connect(port: node.port, path: "/ws/mixed")
                try await node.server.cluster!.whenSubscribed(to: try ChannelName(validating: "mixed")).get()
                let other = try await RedisConnection.connect(
                    to: try RedisURL(parsing: redis.url),
                    mode: .commands,
                    on: MultiThreadedEventLoopGroup.singleton.next()
                ).get()
                for foreign in [ByteBuffer(string: "plain text"), ByteBuffer(bytes: [0xC1, 0x01, 0xFF, 0xFE])] {
                    #expect(try await other.send(RESPCommand("PUBLISH", [ByteBuffer(string: "chorus:mixed"), foreign])).get() == .integer(1))
                }
                #expect(try await node.publish("mixed", "valid").status == 200)
                // Redis delivers in order, so the two before it were seen and dropped.
                #expect(try await client.nextMessage().text == "valid")
                #expect(node.server.cluster!.snapshot.malformed == 2)
                #expect(node.server.cluster!.snapshot.messagesIn == 1)
                other.close()
                await client.close()
            }
        }
    }

    @Test("a node subscribes in Redis only while it has local subscribers of a channel")
    func interestFollowsLocalSubscribers() async throws {
        try await RedisServerProcess.with { redis in
            try await TestServer.with(try Self.configuration(redis)) { node in
                let probe = try await RedisConnection.connect(
                    to: try RedisURL(parsing: redis.url),
                    mode: .commands,
                    on: MultiThreadedEventLoopGroup.singleton.next()
                ).get()
                func subscribersInRedis() async throws -> Int64 {
                    let reply = try await probe.send(RESPCommand("PUBSUB", ["NUMSUB", "chorus:topic"])).get()
                    guard case .array(let values?) = reply, values.count == 2, case .integer(let n) = values[1] else {
                        Issue.record("unexpected NUMSUB reply \(reply)")
                        return -1
                    }
                    return n
                }
                #expect(try await subscribersInRedis() == 0)
                let first = try await TestWebSocket.connect(port: node.port, path: "/ws/topic")
                let second = try await TestWebSocket.connect(port: node.port, path: "/ws/topic")
                try await node.server.cluster!.whenSubscribed(to: try ChannelName(validating: "topic")).get()
                // One Redis subscription per node, however many local subscribers.
                #expect(try await subscribersInRedis() == 1)
                await first.close()
                await second.close()
                // No event tells the test that Redis processed the UNSUBSCRIBE: poll, bounded.
                let deadline = ContinuousClock.now + .seconds(10)
                var remaining = try await subscribersInRedis()
                while remaining != 0 && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                    remaining = try await subscribersInRedis()
                }
                #expect(remaining == 0)
                probe.close()
            }
        }
    }
}

extension String {
    fileprivate var withoutTrailingNewline: String { self.hasSuffix("\n") ? String(self.dropLast()) : self }
}
