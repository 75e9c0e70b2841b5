import ChorusCore
import ChorusServer
import Foundation
import NIOCore
import Testing

/// Issue 22: the status page's live feed costs the same encodings a second whatever the number of viewers. Each
/// report carries the server's running totals of frames encoded and deliveries (gathered before it is published),
/// so the difference between two consecutive reports is what one report cost: read through the viewers' sockets.
@Suite("The status feed: frames encoded per report do not depend on the number of viewers")
struct StatusEncodingTests {
    /// What a report says about the server (running totals), at its offset in the status channel.
    typealias Totals = (offset: UInt64, framesEncoded: Int, deliveries: Int)

    @Test("1 viewer, then 20: a report's raw frame and a chorus.v1 rendition per loop with a viewer; 1, then 20 sent")
    func encodingsPerReport() async throws {
        let configuration = TestServer.configuration { $0.statusPage = true }
        try await TestServer.with(configuration) { server in
            var viewers = [try await Self.viewer(port: server.port)]
            let alone = try await Self.costPerReport(viewers, after: viewers[0].subscribedAt)
            // One viewer on one event loop: the raw frame the hub encodes for every publish, and the chorus.v1
            // rendition its shard encodes once.
            #expect(alone.encoded == [2, 2])
            #expect(alone.delivered == [1, 1])

            for _ in 1..<20 { viewers.append(try await Self.viewer(port: server.port)) }
            let latest = viewers.map(\.subscribedAt).max()!
            let crowd = try await Self.costPerReport(viewers, after: latest)
            #expect(crowd.delivered == [20, 20])
            // 20 viewers over the event loops: still one raw frame, and at most one rendition per loop.
            for encoded in crowd.encoded {
                #expect(encoded >= 2 && encoded <= 1 + configuration.eventLoops, "\(crowd)")
            }

            // /metrics counts the same frames: the last report's total, plus that report's own (its raw frame and
            // the rendition of viewer 0's loop at least, one per loop at most).
            let last = try await Self.totals(of: viewers[0].client, atLeast: 0)
            let scraped = try await Self.metric("chorus_frames_encoded_total", port: server.port)
            #expect(scraped >= last.framesEncoded + 2 && scraped <= last.framesEncoded + 1 + configuration.eventLoops)
        }
    }

    /// A feed connection subscribed to the status channel, and the channel's offset when it was.
    static func viewer(port: Int) async throws -> (client: ChorusV1Client, subscribedAt: UInt64) {
        let client = try await ChorusV1Client.connect(port: port, path: "/status/live")
        try await client.send(#"{"subscribe":"_chorus.status"}"#)
        return (client, try await client.subscribed("_chorus.status").offset)
    }

    /// The frames encoded and deliveries of reports `after + 1` and `after + 2`: each is the difference between the
    /// totals of the next report and its own. Report `after + 1` was published once every viewer had subscribed, so
    /// all of them receive it and the reports after it; each viewer's socket is read up to report `after + 3`.
    static func costPerReport(
        _ viewers: [(client: ChorusV1Client, subscribedAt: UInt64)],
        after subscribed: UInt64
    ) async throws -> (encoded: [Int], delivered: [Int]) {
        var reports: [Totals] = []
        while reports.count < 3 {
            let report = try await Self.totals(of: viewers[0].client, atLeast: subscribed + 1)
            if let previous = reports.last { #expect(report.offset == previous.offset + 1) }
            reports.append(report)
        }
        #expect(reports[0].offset == subscribed + 1)
        for viewer in viewers.dropFirst() {
            var received = try await Self.totals(of: viewer.client, atLeast: subscribed + 1)
            while received.offset < reports[2].offset {
                received = try await Self.totals(of: viewer.client, atLeast: subscribed + 1)
            }
            #expect(received.offset == reports[2].offset && received.framesEncoded == reports[2].framesEncoded)
        }
        let pairs = zip(reports.dropLast(), reports.dropFirst())
        return (pairs.map { $1.framesEncoded - $0.framesEncoded }, pairs.map { $1.deliveries - $0.deliveries })
    }

    /// The next report at or after offset `offset` on `client` (earlier ones are skipped).
    static func totals(of client: ChorusV1Client, atLeast offset: UInt64) async throws -> Totals {
        while true {
            let message = try await client.next(timeout: .seconds(3))
            guard message.string("channel") == "_chorus.status", let at = message.deliveryOffset else {
                Issue.record("not a report: \(message.json)")
                throw CancellationError()
            }
            guard at >= offset else { continue }
            let data = try #require(message.json["data"] as? [String: any Sendable])
            let frames = try #require((data["frames_encoded"] as? NSNumber)?.intValue)
            let deliveries = try #require((data["deliveries"] as? NSNumber)?.intValue)
            return (offset: at, framesEncoded: frames, deliveries: deliveries)
        }
    }

    /// A counter's value in `/metrics`.
    static func metric(_ name: String, port: Int) async throws -> Int {
        let scrape = try await httpRequest(port: port, "GET", "/metrics")
        let line = try #require(scrape.body.split(separator: "\n").first { $0.hasPrefix(name + " ") })
        return Int(try #require(Double(line.split(separator: " ")[1])))
    }
}
