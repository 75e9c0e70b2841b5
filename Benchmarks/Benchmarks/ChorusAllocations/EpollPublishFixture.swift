#if os(Linux)
    import ChorusServer
    import Dispatch
    import Glibc
    import Logging
    import NIOCore

    /// A real Chorus server on the epoll transport (one loop) inside the benchmark process, with `subscribers`
    /// WebSocket clients and one keep-alive HTTP publisher on plain blocking loopback sockets. The clients read
    /// into one preallocated buffer and send preformatted bytes, so they allocate nothing per iteration: what an
    /// iteration counts is what the server allocates for one `POST /publish` and its fan-out (the NIO HTTP side
    /// included, which is per publish, not per subscriber).
    final class EpollPublishFixture {
        private static let channel = "bench"
        private static let payloadBytes = 64
        /// A text frame of 64 bytes: two header bytes, then the payload.
        private static let frameBytes = 2 + payloadBytes
        private static let endOfHead: [UInt8] = Array("\r\n\r\n".utf8)
        private static let endOfResponse: [UInt8] = Array("}\n".utf8)

        private let server: ChorusServer
        private let subscribers: [Int32]
        private let publisher: Int32
        private let request: [UInt8]
        private let port: Int
        private let upgrade: [UInt8]
        /// A masked Close with code 1000, as a browser sends it.
        private let closeFrame: [UInt8] = [0x88, 0x82, 0x37, 0xFA, 0x21, 0x3D, 0x03 ^ 0x37, 0xE8 ^ 0xFA]
        private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)

        init(subscribers count: Int) throws {
            var configuration = ServerConfiguration()
            configuration.port = 0
            configuration.eventLoops = 1
            configuration.transport = .epoll
            var logger = Logger(label: "chorus.benchmark")
            logger.logLevel = .critical
            let server = ChorusServer(configuration: configuration, logger: logger)
            // Serves for the rest of the process.
            Task { try await server.run() }
            let port = try blockingAwait { try await server.localAddress.port! }
            self.server = server

            let upgrade = Array(
                ("GET /ws/\(Self.channel) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8
            )
            self.port = port
            self.upgrade = upgrade
            var subscribers: [Int32] = []
            for _ in 0..<count {
                let fd = try Self.connect(port: port)
                Self.sendAll(fd, upgrade)
                let length = Self.readUntil(fd, endingWith: Self.endOfHead, into: self.buffer)
                let head = String(decoding: self.buffer[..<length], as: UTF8.self)
                precondition(head.hasPrefix("HTTP/1.1 101"), "upgrade refused: \(head)")
                subscribers.append(fd)
            }
            self.subscribers = subscribers
            self.publisher = try Self.connect(port: port)
            self.request = Array(
                ("POST /publish/\(Self.channel) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                    + "Content-Length: \(Self.payloadBytes)\r\n\r\n").utf8
            ) + [UInt8](repeating: UInt8(ascii: "m"), count: Self.payloadBytes)

            // One checked publish: every subscriber gets the 66-byte frame, and the server says so.
            let length = self.publishAndReceive()
            let response = String(decoding: self.buffer[..<length], as: UTF8.self)
            precondition(response.contains("\"delivered\":\(count)"), "unexpected publish response: \(response)")
        }

        /// One publish, measured: the request, the server's answer (its length is returned; it stays in the
        /// buffer), and the frame at every subscriber.
        @discardableResult
        func publishAndReceive() -> Int {
            Self.sendAll(self.publisher, self.request)
            let length = Self.readUntil(self.publisher, endingWith: Self.endOfResponse, into: self.buffer)
            for fd in self.subscribers {
                Self.readExactly(fd, Self.frameBytes, into: UnsafeMutableRawBufferPointer(rebasing: self.buffer[2048...]))
                precondition(
                    self.buffer[2048] == 0x81 && self.buffer[2049] == UInt8(Self.payloadBytes),
                    "not the published frame"
                )
            }
            return length
        }

        /// One connection's whole life on the server, measured: accept, upgrade (subscribing to the channel, which
        /// has the fixture's subscribers), a close from the client, the echo, the socket closed by the server.
        func connectionLifecycle() throws {
            let fd = try Self.connect(port: self.port)
            Self.sendAll(fd, self.upgrade)
            let length = Self.readUntil(fd, endingWith: Self.endOfHead, into: self.buffer)
            precondition(length > 12 && self.buffer[9] == UInt8(ascii: "1") && self.buffer[11] == UInt8(ascii: "1"), "not a 101")
            Self.sendAll(fd, self.closeFrame)
            Self.readExactly(fd, 4, into: self.buffer)
            precondition(self.buffer[0] == 0x88 && self.buffer[2] == 0x03 && self.buffer[3] == 0xE8, "not the close echo")
            let end = recv(fd, self.buffer.baseAddress!, 1, 0)
            precondition(end == 0, "the server did not close the socket")
            Glibc.close(fd)
        }

        private static func connect(port: Int) throws -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            precondition(fd >= 0, "socket: \(errno)")
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            precondition(result == 0, "connect: \(errno)")
            return fd
        }

        private static func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let sent = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                    precondition(sent > 0 || errno == EINTR, "send: \(errno)")
                    offset += max(0, sent)
                }
            }
        }

        private static func readExactly(_ fd: Int32, _ count: Int, into buffer: UnsafeMutableRawBufferPointer) {
            var offset = 0
            while offset < count {
                let read = recv(fd, buffer.baseAddress! + offset, count - offset, 0)
                precondition(read > 0 || (read < 0 && errno == EINTR), "recv: \(read) \(errno)")
                offset += max(0, read)
            }
        }

        /// Reads into `buffer` until what was read ends with `terminator` and returns the length. Only for answers
        /// after which the server sends nothing until asked: a 101 head ("\r\n\r\n"), a publish response (one
        /// line of JSON, "}\n").
        private static func readUntil(
            _ fd: Int32,
            endingWith terminator: [UInt8],
            into buffer: UnsafeMutableRawBufferPointer
        ) -> Int {
            var length = 0
            repeat {
                let read = recv(fd, buffer.baseAddress! + length, 2048 - length, 0)
                precondition(read > 0 || (read < 0 && errno == EINTR), "recv: \(read) \(errno)")
                length += max(0, read)
            } while length < terminator.count || !buffer[(length - terminator.count)..<length].elementsEqual(terminator)
            return length
        }
    }

    /// Waits on this thread for `body` (setup only).
    private func blockingAwait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }

    private final class ResultBox<T>: @unchecked Sendable {
        // @unchecked: written once by the task before `signal`, read after `wait`.
        var result: Result<T, any Error>?
    }
#endif
