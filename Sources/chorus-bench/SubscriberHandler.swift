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
    private var scanner: ServerFrameScanner
    private var response: UpgradeResponseReader
    private var state = State.connecting

    private enum State {
        case connecting
        /// The request is sent; `response` reads the answer.
        case awaitingResponse
        case open
        case done
    }

    init(
        request: ByteBuffer,
        protocol wireProtocol: WireProtocol,
        subprotocol: [UInt8],
        statistics: LoopStatistics,
        onOutcome: @escaping @Sendable ((any Channel)?) -> Void
    ) {
        self.request = request
        self.scanner = ServerFrameScanner(protocol: wireProtocol)
        self.response = UpgradeResponseReader(subprotocol: subprotocol)
        self.statistics = statistics
        self.onOutcome = onOutcome
    }

    func channelActive(context: ChannelHandlerContext) {
        self.state = .awaitingResponse
        context.writeAndFlush(Self.wrapOutboundOut(self.request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { bytes in
            var body = bytes[...]
            if case .awaitingResponse = self.state {
                switch self.response.read(bytes) {
                case .incomplete:
                    return
                case .refused:
                    return self.fail(context: context)
                case .subprotocolMissing:
                    // The server does not speak what --protocol asked for: BenchRun.connect reports it.
                    self.statistics.subprotocolMissing += 1
                    return self.fail(context: context)
                case .switched(let bodyStart):
                    body = bytes[bodyStart...]
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
                case .offsetGap: statistics.chorusV1.offsetGaps &+= 1
                case .malformed: statistics.chorusV1.malformed &+= 1
                case .text(let kind): statistics.chorusV1.count(kind)
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
