import NIOCore
import NIOHTTP1

/// One connection's requests, assembled from the parts NIO's decoder reads (NIO does the framing; this decides
/// what a request may be): refuses early what would be refused at the end (a declared or chunked body over
/// `--max-message-bytes`: 413; a transfer coding Chorus cannot decode: 501), and says how each answer ends the
/// exchange and what the handshake timer means when it fires. Pure: `HTTPConnectionHandler` carries out what it
/// returns.
struct HTTPRequestAssembly {
    private enum State {
        /// Waiting for a request head.
        case idle
        /// Collecting a request; `body` is nil for routes that ignore it.
        case receiving(HTTPRequestHead, Route, body: ByteBuffer?)
        /// A response is being produced.
        case responding
        /// The connection ends once the last answer is written (or it timed out): whatever still arrives is
        /// dropped, and nothing more is counted (the decoder's complaint about a request cut short by our own
        /// close is not a second event).
        case closing
    }

    /// What to do with a part just read.
    enum PartAction {
        case nothing
        /// The request is complete: route it.
        case route(HTTPRequestHead, Route, body: ByteBuffer?)
        /// Answer with this and close (counted when it carries a handshake reason).
        case refuse(HTTPRejection)
    }

    /// How an answer ends the exchange.
    enum AnswerEnding: Equatable {
        /// The connection stays for the next request, and the timer starts again.
        case keepOpen
        /// Close once the answer is written.
        case close
        /// Answered before the request's end (from its head, or part of its body): the client may still be
        /// sending, so close only our side and drop what arrives for a while.
        case lingerThenClose
    }

    /// What to do when the handshake timer fires.
    enum TimerAction: Equatable {
        /// An answer is being produced: it will end the exchange.
        case nothing
        /// Close the connection, counting a handshake timeout when the client left a request unfinished (or sent
        /// none at all).
        case close(countTimeout: Bool)
    }

    private let maxBodyBytes: Int
    private let echoPath: String?
    private var state = State.idle
    private var sawRequest = false
    /// False when the current request asked not to keep the connection (`Connection: close`, or HTTP/1.0
    /// without keep-alive): it then closes once the response is sent.
    private var keepAlive = true
    /// The upgrader's refusal of the current request, answered at its end.
    private var refusedUpgrade: HTTPRejection?

    init(maxBodyBytes: Int, echoPath: String?) {
        self.maxBodyBytes = maxBodyBytes
        self.echoPath = echoPath
    }

    /// True once the connection is ending: errors are then no longer answered, nor counted.
    var isClosing: Bool {
        if case .closing = self.state { true } else { false }
    }

    /// The upgrader refused the current request; NIO passes it on next as plain HTTP.
    mutating func upgradeRefused(_ rejection: HTTPRejection) {
        self.refusedUpgrade = rejection
    }

    mutating func head(_ head: HTTPRequestHead) -> PartAction {
        switch self.state {
        case .idle:
            // The timer keeps running until `.end`: a request must be complete in time, body included.
            self.sawRequest = true
            self.keepAlive = head.isKeepAlive
            let route = Route(uri: head.uri, echoPath: self.echoPath)
            let collectsBody: Bool
            if case .publish = route { collectsBody = true } else { collectsBody = false }
            // Receiving from here on, so that a refusal below is known to come before the request's end.
            self.state = .receiving(head, route, body: collectsBody ? ByteBuffer() : nil)
            if Self.hasUnsupportedTransferCoding(head) {
                // NIO's decoder reads `chunked` only and has refused a request whose last coding is another one;
                // one before it (`gzip, chunked`) would be passed on undecoded (RFC 9112 §6.1: 501).
                return .refuse(
                    HTTPRejection(
                        .notImplemented,
                        "transfer coding not supported (only chunked)",
                        handshake: .badRequest
                    )
                )
            }
            if collectsBody, Self.declaredLength(head, isOver: self.maxBodyBytes) {
                // Refused from the head: the body is never read.
                return .refuse(self.tooLarge)
            }
            return .nothing
        case .closing:
            return .nothing
        case .receiving, .responding:
            return .refuse(Self.outOfOrder)
        }
    }

    mutating func body(_ chunk: inout ByteBuffer) -> PartAction {
        switch self.state {
        case .receiving(let head, let route, var body?):
            guard body.readableBytes + chunk.readableBytes <= self.maxBodyBytes else {
                // A chunked body, refused as soon as it passes the limit.
                return .refuse(self.tooLarge)
            }
            self.state = .responding  // drop our reference so `body` is uniquely owned
            body.writeBuffer(&chunk)
            self.state = .receiving(head, route, body: body)
            return .nothing
        case .receiving(_, _, body: nil), .closing:
            return .nothing
        case .idle, .responding:
            return .refuse(Self.outOfOrder)
        }
    }

    mutating func end() -> PartAction {
        switch self.state {
        case .receiving(let head, let route, let body):
            self.state = .responding
            if let rejection = self.refusedUpgrade {
                // The decoder stops parsing after an upgrade request, so this connection cannot carry another.
                self.refusedUpgrade = nil
                return .refuse(rejection)
            }
            return .route(head, route, body: body)
        case .closing:
            return .nothing
        case .idle, .responding:
            return .refuse(Self.outOfOrder)
        }
    }

    /// An answer is about to be written; `closeAfter` when it ends the connection whatever the request asked.
    mutating func answering(closeAfter: Bool) -> AnswerEnding {
        guard closeAfter || !self.keepAlive else {
            self.state = .idle
            return .keepOpen
        }
        let answeredEarly: Bool
        if case .receiving = self.state { answeredEarly = true } else { answeredEarly = false }
        self.state = .closing
        return answeredEarly ? .lingerThenClose : .close
    }

    mutating func timerFired() -> TimerAction {
        let countTimeout: Bool
        switch self.state {
        case .responding:
            return .nothing
        case .idle:
            // A kept-alive connection that goes quiet after its requests is no failure.
            countTimeout = !self.sawRequest
        case .receiving:
            countTimeout = true
        case .closing:
            countTimeout = false
        }
        self.state = .closing
        return .close(countTimeout: countTimeout)
    }

    private var tooLarge: HTTPRejection {
        HTTPRejection(.payloadTooLarge, "message is larger than max-message-bytes (\(self.maxBodyBytes))")
    }

    /// Out of order parts cannot come from NIO's decoder; refuse rather than guess.
    private static let outOfOrder = HTTPRejection(.badRequest, "malformed request")

    /// Whether `Content-Length` says more than `limit`. NIO's decoder has checked that it is digits, so one that
    /// does not fit an `Int` is over any limit.
    private static func declaredLength(_ head: HTTPRequestHead, isOver limit: Int) -> Bool {
        guard let length = head.headers.first(name: "content-length") else { return false }
        return Int(length).map { $0 > limit } ?? true
    }

    /// Whether `Transfer-Encoding` names a coding other than `chunked`, the only one Chorus decodes.
    private static func hasUnsupportedTransferCoding(_ head: HTTPRequestHead) -> Bool {
        head.headers[canonicalForm: "transfer-encoding"].contains { $0.lowercased() != "chunked" }
    }
}
