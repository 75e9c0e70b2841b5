import NIOCore

/// Reads the keep-alive responses to `POST /publish/{channel}` in order and adds up what they report.
/// Chorus answers `{"channel":"…","delivered":N}` with a `Content-Length`, so each response is found by its head.
final class PublishResponseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// The publish responses seen so far.
    struct Tally: Sendable {
        /// Responses with status 200.
        var accepted = 0
        /// Responses with any other status.
        var rejected = 0
        /// Sum of `delivered` over accepted measured publishes: the server's own count of subscriber writes.
        var deliveredMeasured = 0
    }

    /// Whether each request sent and not yet answered is measured, oldest first (responses come in order).
    private var measuredFlags: [Bool] = []
    private var nextFlag = 0
    private var pending: ByteBuffer?
    private(set) var tally = Tally()
    /// Called after each response.
    var onResponse: (() -> Void)?

    init() {}

    /// Notes that a request was sent; its response counts in `deliveredMeasured` if `measured`.
    func expectResponse(measured: Bool) { self.measuredFlags.append(measured) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = Self.unwrapInboundIn(data)
        if self.pending == nil { self.pending = incoming } else { self.pending!.writeBuffer(&incoming) }
        while let response = self.nextResponse() {
            let measured = self.nextFlag < self.measuredFlags.count && self.measuredFlags[self.nextFlag]
            self.nextFlag += 1
            if response.status == 200 {
                self.tally.accepted += 1
                if measured { self.tally.deliveredMeasured += response.delivered }
            } else {
                self.tally.rejected += 1
            }
            self.onResponse?()
        }
    }

    /// Removes one complete response from `pending`, if there is one.
    private func nextResponse() -> (status: Int, delivered: Int)? {
        guard var buffer = self.pending,
            let text = buffer.getString(at: buffer.readerIndex, length: buffer.readableBytes),
            let headEnd = text.firstRange(of: "\r\n\r\n")
        else { return nil }
        let head = text[..<headEnd.lowerBound]
        let status = Int(head.dropFirst("HTTP/1.1 ".count).prefix(3)) ?? 0
        var length = 0
        for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
            length = Int(line.dropFirst("content-length:".count).trimmingPrefix(" ")) ?? 0
        }
        let headBytes = text.utf8.distance(from: text.utf8.startIndex, to: headEnd.upperBound)
        guard buffer.readableBytes >= headBytes + length else { return nil }
        buffer.moveReaderIndex(forwardBy: headBytes)
        let body = buffer.readString(length: length) ?? ""
        self.pending = buffer.readableBytes == 0 ? nil : buffer
        var delivered = 0
        if let key = body.firstRange(of: "\"delivered\":") {
            delivered = Int(body[key.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        return (status, delivered)
    }
}

@available(*, unavailable)
extension PublishResponseHandler: Sendable {}
