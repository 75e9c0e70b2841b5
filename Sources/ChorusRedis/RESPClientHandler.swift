import NIOCore

/// The one handler of a Redis connection: writes encoded commands, parses replies and matches them to the
/// commands in order (Redis answers in order on a connection), and hands pushes to the connection's owner.
final class RESPClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Request
    typealias OutboundOut = ByteBuffer

    /// A command and, when it has one, the promise for its reply.
    struct Request: Sendable {
        var command: RESPCommand
        var reply: EventLoopPromise<RESPValue>?
    }

    private let parser: RESPParser
    private let mode: RedisConnection.Mode
    private let onPush: @Sendable (RESPValue) -> Void
    private var waiting = CircularBuffer<EventLoopPromise<RESPValue>>()
    /// Bytes received but not yet parsed into a complete value.
    private var received: ByteBuffer?

    init(mode: RedisConnection.Mode, limits: RESPParserLimits, onPush: @escaping @Sendable (RESPValue) -> Void) {
        self.parser = RESPParser(limits: limits)
        self.mode = mode
        self.onPush = onPush
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = Self.unwrapOutboundIn(data)
        if let reply = request.reply { self.waiting.append(reply) }
        context.write(Self.wrapOutboundOut(request.command.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = Self.unwrapInboundIn(data)
        if self.received == nil {
            self.received = chunk
        } else {
            self.received!.writeBuffer(&chunk)
        }
        do {
            while var buffer = self.received {
                // Drop our reference while parsing so appending later does not copy shared storage needlessly.
                self.received = nil
                let result = try self.parser.next(from: &buffer)
                self.received = buffer.readableBytes > 0 ? buffer : nil
                guard case .value(let value) = result else { break }
                guard self.dispatch(value) else {
                    self.fail(context: context, with: .unexpectedReply)
                    return
                }
            }
        } catch {
            self.fail(context: context, with: .protocolViolation(error))
        }
    }

    /// Routes one value: pushes (and, on a subscriber connection, every array) to the owner, anything else to
    /// the oldest waiting command. False when nothing was waiting for it.
    private func dispatch(_ value: RESPValue) -> Bool {
        switch (value, self.mode) {
        case (.push, _), (.array, .subscriber):
            // In RESP2 a subscribed connection's messages and (un)subscribe confirmations are plain arrays.
            self.onPush(value)
            return true
        default:
            guard let reply = self.waiting.popFirst() else { return false }
            if case .error(let message) = value {
                reply.fail(RedisError.server(String(buffer: message)))
            } else {
                reply.succeed(value)
            }
            return true
        }
    }

    private func fail(context: ChannelHandlerContext, with error: RedisError) {
        self.received = nil
        self.failWaiting(error)
        context.close(promise: nil)
    }

    private func failWaiting(_ error: RedisError) {
        while let reply = self.waiting.popFirst() { reply.fail(error) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failWaiting(.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Reset, refused, timed out: the connection is unusable; its owner reconnects.
        self.failWaiting(.connectionClosed)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension RESPClientHandler: Sendable {}
