import NIOCore

/// The one handler of a subscriber connection: sends the upgrade request, waits for `101`, then scans frames and
/// counts data messages into its loop's `LoopStatistics`. It keeps no buffers: the receive allocator's buffer is
/// the only per-read memory, and each read is scanned in place.
final class SubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The upgrade request, encoded once and shared by every connection.
    private let request: ByteBuffer
    private let statistics: LoopStatistics
    /// Told once per connection: the channel when the upgrade succeeded, nil when it failed.
    private let onOutcome: @Sendable ((any Channel)?) -> Void
    private var scanner = ServerFrameScanner()
    private var state = State.connecting
    private static let endOfHead: [UInt8] = Array("\r\n\r\n".utf8)
    private static let switchingStatus: [UInt8] = Array("101".utf8)

    private enum State {
        case connecting
        /// Response bytes seen so far, and how many of "\r\n\r\n" the last bytes matched.
        case awaitingResponse(seen: Int, matched: Int, switching: Bool)
        case open
        case done
    }

    init(request: ByteBuffer, statistics: LoopStatistics, onOutcome: @escaping @Sendable ((any Channel)?) -> Void) {
        self.request = request
        self.statistics = statistics
        self.onOutcome = onOutcome
    }

    func channelActive(context: ChannelHandlerContext) {
        self.state = .awaitingResponse(seen: 0, matched: 0, switching: true)
        context.writeAndFlush(Self.wrapOutboundOut(self.request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { bytes in
            var body = bytes[...]
            if case .awaitingResponse(var seen, var matched, var switching) = self.state {
                // Status line "HTTP/1.1 101 ...": bytes 9 to 11 carry the status code.
                var index = bytes.startIndex
                while index < bytes.endIndex, matched < 4 {
                    let byte = bytes[index]
                    if (9...11).contains(seen) && byte != Self.switchingStatus[seen - 9] { switching = false }
                    matched = byte == Self.endOfHead[matched] ? matched + 1 : (byte == 13 ? 1 : 0)
                    seen += 1
                    index += 1
                }
                body = bytes[index...]
                guard matched == 4 else {
                    self.state = .awaitingResponse(seen: seen, matched: matched, switching: switching)
                    return
                }
                guard switching else {
                    self.fail(context: context)
                    return
                }
                self.state = .open
                self.statistics.upgraded += 1
                self.onOutcome(context.channel)
            }
            guard case .open = self.state, !body.isEmpty else { return }
            let now = NIODeadline.now().uptimeNanoseconds
            let statistics = self.statistics
            var pinged = false
            var closed = false
            self.scanner.scan(UnsafeRawBufferPointer(rebasing: body)) { event in
                switch event {
                case .data(let sentAt, let isMeasured):
                    statistics.received(sentAt: sentAt, isMeasured: isMeasured, now: now)
                case .ping: pinged = true
                case .close: closed = true
                }
            }
            if pinged {
                // An empty pong, masked with the zero key (a client must mask; zero leaves the bytes as they are).
                var pong = context.channel.allocator.buffer(capacity: 6)
                pong.writeBytes([0x8A, 0x80, 0, 0, 0, 0])
                context.writeAndFlush(Self.wrapOutboundOut(pong), promise: nil)
            }
            if closed { context.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch self.state {
        case .connecting, .awaitingResponse: self.fail(context: context)
        case .open: self.statistics.closedEarly += 1  // counted only until the run ends (snapshots come first)
        case .done: break
        }
        self.state = .done
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func fail(context: ChannelHandlerContext) {
        guard case .done = self.state else {
            self.state = .done
            self.onOutcome(nil)
            context.close(promise: nil)
            return
        }
    }
}

@available(*, unavailable)
extension SubscriberHandler: Sendable {}
