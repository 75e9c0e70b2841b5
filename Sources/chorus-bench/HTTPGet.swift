import NIOCore
import NIOPosix

/// One `GET` with `Connection: close`: the response is everything the server sends before closing.
enum HTTPGet {
    static func fetch(group: any EventLoopGroup, host: String, port: Int, path: String) throws -> String {
        let loop = group.next()
        let collector = try loop.submit { NIOLoopBound(ResponseCollector(), eventLoop: loop) }.wait()
        let channel = try ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(collector.value)
                }
            }
            .connect(host: host, port: port)
            .wait()
        var request = channel.allocator.buffer(capacity: 128)
        request.writeString("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n")
        try channel.writeAndFlush(request).wait()
        try channel.closeFuture.wait()
        let response = try loop.submit { collector.value.text }.wait()
        guard response.hasPrefix("HTTP/1.1 200"), let body = response.firstRange(of: "\r\n\r\n") else {
            throw BenchError("GET \(path) on \(host):\(port) failed: \(response.prefix(80))")
        }
        return String(response[body.upperBound...])
    }
}

/// Gathers a response's bytes until the connection closes.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    var text = ""

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.text += String(buffer: Self.unwrapInboundIn(data))
    }
}
