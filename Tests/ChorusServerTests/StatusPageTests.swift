import ChorusCore
import ChorusServer
import Foundation
import NIOCore
import Testing

@Suite("The status page: off by default, behind the metrics token, a live report once a second on its own feed")
struct StatusPageTests {
    @Test("/status and its feed are not found without --status-page")
    func offByDefault() async throws {
        try await TestServer.with { server in
            #expect(try await httpRequest(port: server.port, "GET", "/status").status == 404)
            let feed = try await upgrade(port: server.port, path: "/status/live")
            #expect(feed.status == 404)
        }
    }

    @Test("the page is HTML with a data-stat element for each documented figure, and loads chorus.js")
    func page() async throws {
        try await TestServer.with(TestServer.configuration { $0.statusPage = true }) { server in
            let page = try await httpRequest(port: server.port, "GET", "/status")
            #expect(page.status == 200)
            #expect(page.header("content-type") == "text/html; charset=utf-8")
            for stat in ["connections", "channels", "deliveries_per_second", "buffer_reuse", "memory_per_connection"] {
                #expect(page.body.contains(#"data-stat="\#(stat)""#), "no element for \(stat)")
            }
            #expect(page.body.contains(#"import { Chorus } from "/chorus.js""#))
            #expect(try await httpRequest(port: server.port, "POST", "/status").status == 405)
            // The feed is an upgrade only.
            #expect(try await httpRequest(port: server.port, "GET", "/status/live").status == 426)
        }
    }

    @Test("with --metrics-token the page and its feed need it, as a header or ?token=")
    func token() async throws {
        let configuration = TestServer.configuration {
            $0.statusPage = true
            $0.metricsToken = "s3cret/+"
        }
        try await TestServer.with(configuration) { server in
            #expect(try await httpRequest(port: server.port, "GET", "/status").status == 401)
            #expect(try await httpRequest(port: server.port, "GET", "/status?token=nope").status == 403)
            #expect(try await httpRequest(port: server.port, "GET", "/status?token=s3cret%2F%2B").status == 200)
            let withHeader = try await httpRequest(
                port: server.port,
                "GET",
                "/status",
                headers: ["Authorization: Bearer s3cret/+"]
            )
            #expect(withHeader.status == 200)

            let without = try await upgrade(port: server.port, path: "/status/live")
            #expect(without.status == 401)
            let wrong = try await upgrade(port: server.port, path: "/status/live?token=s3cret")
            #expect(wrong.status == 403)
            let feed = try await ChorusV1Client.connect(port: server.port, path: "/status/live?token=s3cret%2F%2B")
            try await feed.send(#"{"subscribe":"_chorus.status"}"#)
            #expect(try await feed.subscribed("_chorus.status").recovered == false)
        }
    }

    @Test("the feed delivers a report within two seconds with the documented fields; nobody else may follow or publish")
    func liveFeed() async throws {
        let configuration = TestServer.configuration {
            $0.statusPage = true
            $0.clientPublish = true
        }
        try await TestServer.with(configuration) { server in
            // Some traffic to report: two subscribers of one channel.
            let subscribers = [
                try await TestWebSocket.connect(port: server.port, path: "/ws/news"),
                try await TestWebSocket.connect(port: server.port, path: "/ws/news"),
            ]
            let feed = try await ChorusV1Client.connect(port: server.port, path: "/status/live")
            try await feed.send(#"{"subscribe":"_chorus.status"}"#)
            let start = try await feed.subscribed("_chorus.status")
            let before = server.server.hub.hubCounters
            #expect(try await server.publish("news", "hello").status == 200)
            for subscriber in subscribers { #expect(try await subscriber.nextMessage().text == "hello") }
            // Watching costs other publishes nothing: the feed is not counted as a chorus.v1 connection, so a publish
            // to raw subscribers encodes one frame, not a chorus.v1 rendition besides (the reports one each, too).
            let after = server.server.hub.hubCounters
            let published = [PublishSource.http, .system].map {
                after.published[$0.rawValue] - before.published[$0.rawValue]
            }
            #expect(after.framesEncoded - before.framesEncoded == published.reduce(0, +) && published[0] == 1)

            let clock = ContinuousClock()
            let began = clock.now
            let report = try await feed.next(timeout: .seconds(3))
            #expect(clock.now - began < .milliseconds(2500))
            #expect(report.string("channel") == "_chorus.status" && report.string("epoch") == start.epoch)
            #expect(report.deliveryOffset == start.offset + 1)
            var data = try #require(report.json["data"] as? [String: any Sendable])
            for field in [
                "connections", "channels", "subscriptions", "deliveries_per_second", "publishes_per_second",
                "buffer_reuse", "frames_encoded", "deliveries", "memory_per_connection", "resident_bytes",
                "cpu_percent", "slow_consumer_drops", "slow_consumer_disconnects", "interval_seconds",
            ] {
                #expect(data[field] is NSNumber, "\(field) missing or not a number")
            }
            // Three connections (the feed's own included); the status channel is not counted among channels.
            #expect((data["connections"] as? NSNumber)?.intValue == 3)
            #expect((data["channels"] as? NSNumber)?.intValue == 1)
            #expect(((data["deliveries"] as? NSNumber)?.intValue ?? 0) >= 2)
            // The publish is in the first report after it: the busiest channels since the previous report.
            var offset = start.offset + 1
            while (data["busiest_channels"] as? [any Sendable])?.isEmpty != false, offset < start.offset + 3 {
                let next = try await feed.next(timeout: .seconds(3))
                offset += 1
                // Each report follows the previous one in the same stream.
                #expect(next.deliveryOffset == offset)
                data = try #require(next.json["data"] as? [String: any Sendable])
            }
            let busiest = try #require(data["busiest_channels"] as? [any Sendable])
            let first = try #require(busiest.first as? [String: any Sendable])
            #expect(first["channel"] as? String == "news" && (first["subscribers"] as? NSNumber)?.intValue == 2)
            #expect((first["deliveries_per_second"] as? NSNumber)?.doubleValue ?? 0 > 0)

            // An ordinary connection may neither follow nor publish to the system channel; nor may the feed publish.
            let other = try await ChorusV1Client.connect(port: server.port, path: "/ws")
            try await other.send(#"{"subscribe":"_chorus.status"}"#)
            #expect(try await other.next().string("error") == "forbidden")
            try await other.send(#"{"publish":"_chorus.status","data":1}"#)
            #expect(try await other.next().string("error") == "forbidden")
            try await feed.send(#"{"publish":"_chorus.status","data":1}"#)
            var answer = try await feed.next()
            while answer.string("channel") == "_chorus.status" && answer.json["data"] != nil {
                answer = try await feed.next()
            }
            #expect(answer.string("error") == "forbidden")
            // Nor anywhere else: publish, history, the URL of a raw or chorus.v1 subscriber, a raw subscribe.
            #expect(try await server.publish("_chorus.status", "x").status == 403)
            #expect(try await httpRequest(port: server.port, "GET", "/history/_chorus.status").status == 403)
            #expect(try await upgrade(port: server.port, path: "/ws/_chorus.status").status == 403)
            #expect(
                try await upgrade(port: server.port, path: "/ws?channel=_chorus.status&protocol=chorus.v1").status
                    == 403
            )
            let raw = try await TestWebSocket.connect(port: server.port, path: "/ws")
            try await raw.sendText(#"{"subscribe":"_chorus.status"}"#)
            #expect(try await raw.expectClose(skippingData: true).closeCode == 1008)
        }
    }

    @Test("nothing is published on the system channel while nobody watches")
    func quietWhenUnwatched() async throws {
        try await TestServer.with(TestServer.configuration { $0.statusPage = true }) { server in
            let feed = try await ChorusV1Client.connect(port: server.port, path: "/status/live")
            try await feed.send(#"{"subscribe":"_chorus.status"}"#)
            _ = try await feed.subscribed("_chorus.status")
            _ = try await feed.next(timeout: .seconds(3))
            try await feed.socket.sendClose()
            _ = try await feed.socket.expectClose(skippingData: true)
            let before = server.server.hub.hubCounters.published[PublishSource.system.rawValue]
            #expect(before >= 1)
            // Wait until the feed's place is given back, then through two report intervals.
            while server.server.state.statusViewers.count > 0 { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: .milliseconds(2200))
            #expect(server.server.hub.hubCounters.published[PublishSource.system.rawValue] == before)
        }
    }
}
