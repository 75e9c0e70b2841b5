import NIOCore
import NIOPosix

/// Publishes timestamped messages over one keep-alive HTTP connection at a fixed rate. Send times are planned
/// from the start (message i at start + i / rate), so a late send does not shift the ones after it.
final class Publisher: Sendable {
    /// What the publisher did, once every response is in.
    struct Result: Sendable {
        /// Messages sent, warm-up included.
        var sent: Int
        /// Measured messages sent.
        var measured: Int
        var tally: PublishResponseHandler.Tally
    }

    private let channel: any Channel
    private let handler: NIOLoopBound<PublishResponseHandler>
    private let template: ByteBuffer
    private let payloadOffset: Int

    /// Connects to the server; the first `warmup` messages will carry the warm-up flag.
    init(group: any EventLoopGroup, target: BenchTarget, size: Int, warmup: Int) throws {
        let loop = group.next()
        let handler = try loop.submit { NIOLoopBound(PublishResponseHandler(warmup: warmup), eventLoop: loop) }.wait()
        self.channel = try ClientBootstrap(group: loop)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler.value) }
            }
            .connect(host: target.host, port: target.port)
            .wait()
        self.handler = handler
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
        let loop = self.channel.eventLoop
        let done = loop.makePromise(of: Result.self)
        loop.execute {
            let handler = self.handler.value
            let finish = {
                done.succeed(Result(sent: count, measured: max(0, count - warmup), tally: handler.tally))
            }
            if count == 0 { return finish() }
            handler.onResponse = { responses in if responses == count { finish() } }
            for index in 0..<count {
                let due = start + .nanoseconds(Int64(Double(index) / rate * 1e9))
                loop.scheduleTask(deadline: due) { self.send(measured: index >= warmup) }
            }
        }
        self.channel.closeFuture.whenComplete { _ in
            done.fail(BenchError("the publish connection closed before every response arrived"))
        }
        return done.futureResult
    }

    func close() { self.channel.close(promise: nil) }

    private func send(measured: Bool) {
        var request = self.template
        request.setInteger(NIODeadline.now().uptimeNanoseconds, at: self.payloadOffset, endianness: .little)
        request.setInteger(UInt8(measured ? 1 : 0), at: self.payloadOffset + BenchPayload.flagOffset)
        self.channel.writeAndFlush(request, promise: nil)
    }
}
