import NIOCore
import NIOPosix

/// Publishes timestamped messages at a fixed rate over a few keep-alive HTTP connections, message i on connection
/// i mod n, as an application's HTTP client pool would. Send times are planned from the start (message i at
/// start + i / rate), so a late send does not shift the ones after it. More than one connection matters: an HTTP
/// server answers one connection's pipelined requests one at a time, so with one connection a publish cannot
/// reach the server's loops before the previous one was fanned out.
final class Publisher: Sendable {
    /// What the publisher did, once every response is in.
    struct Result: Sendable {
        /// Messages sent, warm-up included.
        var sent: Int
        /// Measured messages sent.
        var measured: Int
        var tally: PublishResponseHandler.Tally
    }

    private let loop: any EventLoop
    private let channels: [any Channel]
    private let handlers: NIOLoopBound<[PublishResponseHandler]>
    private let template: ByteBuffer
    private let payloadOffset: Int

    /// Opens `connections` connections to the server, all on one event loop of `group`.
    init(group: any EventLoopGroup, target: BenchTarget, size: Int, connections: Int = 1) throws {
        let loop = group.next()
        let count = max(1, connections)
        let handlers = try loop.submit {
            NIOLoopBound((0..<count).map { _ in PublishResponseHandler() }, eventLoop: loop)
        }.wait()
        var channels: [any Channel] = []
        for index in 0..<count {
            channels.append(
                try ClientBootstrap(group: loop)
                    .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(handlers.value[index])
                        }
                    }
                    .connect(host: target.host, port: target.port)
                    .wait()
            )
        }
        self.loop = loop
        self.channels = channels
        self.handlers = handlers
        let size = max(size, BenchPayload.minimumSize)
        var template = ByteBufferAllocator().buffer(capacity: 256 + size)
        template.writeString(
            "POST /publish/\(target.channel) HTTP/1.1\r\nHost: \(target.host):\(target.port)\r\n"
                + "Content-Type: application/octet-stream\r\nContent-Length: \(size)\r\n\r\n"
        )
        self.payloadOffset = template.writerIndex
        template.writeRepeatingByte(UInt8(ascii: "x"), count: size)
        self.template = template
    }

    /// Sends `count` messages, `rate` per second, from `start`; the first `warmup` are flagged as warm-up.
    /// The future completes once every response has arrived.
    func run(count: Int, warmup: Int, rate: Double, start: NIODeadline) -> EventLoopFuture<Result> {
        let loop = self.loop
        let done = loop.makePromise(of: Result.self)
        loop.execute {
            let handlers = self.handlers.value
            let finish = {
                let tally = handlers.reduce(into: PublishResponseHandler.Tally()) { total, handler in
                    total.accepted += handler.tally.accepted
                    total.rejected += handler.tally.rejected
                    total.deliveredMeasured += handler.tally.deliveredMeasured
                }
                done.succeed(Result(sent: count, measured: max(0, count - warmup), tally: tally))
            }
            if count == 0 { return finish() }
            var responses = 0
            for handler in handlers {
                handler.onResponse = {
                    responses += 1
                    if responses == count { finish() }
                }
            }
            for index in 0..<count {
                let due = start + .nanoseconds(Int64(Double(index) / rate * 1e9))
                loop.scheduleTask(deadline: due) {
                    self.send(on: index % self.channels.count, measured: index >= warmup)
                }
            }
        }
        for channel in self.channels {
            channel.closeFuture.whenComplete { _ in
                done.fail(BenchError("a publish connection closed before every response arrived"))
            }
        }
        return done.futureResult
    }

    func close() {
        for channel in self.channels { channel.close(promise: nil) }
    }

    private func send(on connection: Int, measured: Bool) {
        var request = self.template
        request.setInteger(NIODeadline.now().uptimeNanoseconds, at: self.payloadOffset, endianness: .little)
        request.setInteger(UInt8(measured ? 1 : 0), at: self.payloadOffset + BenchPayload.flagOffset)
        self.handlers.value[connection].expectResponse(measured: measured)
        self.channels[connection].writeAndFlush(request, promise: nil)
    }
}
