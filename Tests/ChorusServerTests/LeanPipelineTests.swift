import ChorusCore
import ChorusNIO
import NIOCore
import NIOHTTP1
import Testing

@testable import ChorusServer

// NIO only: the epoll transport has no pipeline (its 32-byte connection record is checked in CorkedWritesTests).
@Suite("The upgraded connection's pipeline", .enabled(if: TestServer.transport == .nio))
struct LeanPipelineTests {
    @Test("after the upgrade only the WebSocket handler is left, on a small fixed receive buffer")
    func oneHandler() async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/lean")
            try await client.sync()
            let reports = try await server.server.hub.collect(on: server.server.hub.shards[0].eventLoop) { shard in
                shard.slab.blocks.compactMap { block -> [String]? in
                    guard let handler = block.sink as? WebSocketConnectionHandler,
                        let pipeline = handler.channel?.pipeline.syncOperations
                    else { return nil }
                    var found: [String] = []
                    func has<H: ChannelHandler>(_ type: H.Type) {
                        if (try? pipeline.context(handlerType: type)) != nil { found.append("\(type)") }
                    }
                    has(WebSocketConnectionHandler.self)
                    has(HTTPResponseEncoder.self)
                    has(ByteToMessageHandler<HTTPRequestDecoder>.self)
                    has(HTTPServerPipelineHandler.self)
                    has(HTTPServerProtocolErrorHandler.self)
                    has(HTTPServerUpgradeHandler.self)
                    has(NIOHTTPResponseHeadersValidator.self)
                    has(HTTPConnectionHandler.self)
                    let allocator = try? handler.channel?.syncOptions?.getOption(.recvAllocator)
                    if let fixed = allocator as? FixedSizeRecvByteBufferAllocator {
                        found.append("recv:\(fixed.capacity)")
                    }
                    return found
                }
            }.get().flatMap { $0 }
            #expect(reports == [["WebSocketConnectionHandler", "recv:256"]])
            await client.close()
        }
    }
}
