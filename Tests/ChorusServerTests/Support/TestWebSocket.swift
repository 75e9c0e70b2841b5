import NIOCore

/// A WebSocket client for tests, written by hand over `RawConnection`: it masks what it sends (or not, when a
/// test wants to break the rules) and decodes exactly what the server sends.
struct TestWebSocket: Sendable {
    let connection: RawConnection
    /// The server's 101 response head (status line and headers).
    var handshakeResponse = ""

    /// One frame as received from the server.
    struct ReceivedFrame: Equatable, Sendable {
        var fin: Bool
        var rsv: UInt8
        var opcode: UInt8
        var masked: Bool
        var payload: [UInt8]

        var text: String { String(decoding: self.payload, as: UTF8.self) }
        /// For close frames: the code, if any.
        var closeCode: UInt16? {
            self.payload.count >= 2 ? UInt16(self.payload[0]) << 8 | UInt16(self.payload[1]) : nil
        }
        var closeReason: String { String(decoding: self.payload.dropFirst(2), as: UTF8.self) }
    }

    /// The server's answer to an upgrade request that was not accepted.
    struct Refused: Error, Sendable {
        var status: Int
        var response: String
    }

    static let sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="

    /// Connects and upgrades `path`; throws `Refused` with the HTTP status if the server says no.
    static func connect(port: Int, path: String, extraHeaders: [String] = [], receiveBufferSize: Int? = nil)
        async throws -> TestWebSocket
    {
        let connection = try await RawConnection.connect(port: port, receiveBufferSize: receiveBufferSize)
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: \(Self.sampleKey)\r\nSec-WebSocket-Version: 13\r\n"
        for header in extraHeaders { request += header + "\r\n" }
        request += "\r\n"
        try await connection.send(request)
        let head = try await connection.read(upTo: "\r\n\r\n")
        let status = Int(head.split(separator: " ")[1]) ?? 0
        guard status == 101 else {
            let rest = try? await connection.readUntilClosed()
            await connection.close()
            throw Refused(status: status, response: head + (rest.map { String(buffer: $0) } ?? ""))
        }
        precondition(head.lowercased().contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="), "bad accept header: \(head)")
        return TestWebSocket(connection: connection, handshakeResponse: head)
    }

    /// Encodes a client frame. Masked with a fixed non-trivial key unless `masked` is false.
    static func encodeFrame(
        opcode: UInt8,
        payload: [UInt8],
        fin: Bool = true,
        rsv: UInt8 = 0,
        masked: Bool = true,
        lengthOverride: UInt64? = nil
    ) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        let length = lengthOverride ?? UInt64(payload.count)
        if length < 126 {
            bytes.append(maskBit | UInt8(length))
        } else if length <= 0xFFFF {
            bytes.append(maskBit | 126)
            bytes.append(contentsOf: [UInt8(length >> 8), UInt8(length & 0xFF)])
        } else {
            bytes.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((length >> UInt64(shift)) & 0xFF)) }
        }
        if masked {
            let key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
            bytes.append(contentsOf: key)
            bytes.append(contentsOf: payload.enumerated().map { $0.element ^ key[$0.offset % 4] })
        } else {
            bytes.append(contentsOf: payload)
        }
        return bytes
    }

    func send(opcode: UInt8, payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, masked: Bool = true) async throws {
        try await self.connection.send(
            Self.encodeFrame(opcode: opcode, payload: payload, fin: fin, rsv: rsv, masked: masked)
        )
    }

    func sendText(_ text: String) async throws {
        try await self.send(opcode: 0x1, payload: Array(text.utf8))
    }

    /// Sends a close frame with `code` (and reason).
    func sendClose(code: UInt16 = 1000, reason: String = "") async throws {
        try await self.send(opcode: 0x8, payload: [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8))
    }

    /// The next frame from the server, pings included.
    func nextFrame(timeout: Duration = .seconds(10)) async throws -> ReceivedFrame {
        var header = try await self.connection.read(count: 2, timeout: timeout)
        let first = header.readInteger(as: UInt8.self)!
        let second = header.readInteger(as: UInt8.self)!
        var length = UInt64(second & 0x7F)
        if length == 126 {
            var extended = try await self.connection.read(count: 2, timeout: timeout)
            length = UInt64(extended.readInteger(as: UInt16.self)!)
        } else if length == 127 {
            var extended = try await self.connection.read(count: 8, timeout: timeout)
            length = extended.readInteger(as: UInt64.self)!
        }
        let masked = second & 0x80 != 0
        if masked { _ = try await self.connection.read(count: 4, timeout: timeout) }
        var payload = try await self.connection.read(count: Int(length), timeout: timeout)
        return ReceivedFrame(
            fin: first & 0x80 != 0,
            rsv: (first >> 4) & 0x7,
            opcode: first & 0x0F,
            masked: masked,
            payload: payload.readBytes(length: payload.readableBytes)!
        )
    }

    /// The next data or close frame, skipping server pings.
    func nextMessage(timeout: Duration = .seconds(10)) async throws -> ReceivedFrame {
        while true {
            let frame = try await self.nextFrame(timeout: timeout)
            if frame.opcode != 0x9 { return frame }
        }
    }

    /// Expects a close frame next (after any data still in flight if `skippingData`), answers it, and
    /// waits for the server to close the TCP connection.
    func expectClose(skippingData: Bool = false, timeout: Duration = .seconds(10)) async throws -> ReceivedFrame {
        while true {
            let frame = try await self.nextMessage(timeout: timeout)
            if frame.opcode == 0x8 {
                try? await self.send(opcode: 0x8, payload: Array(frame.payload.prefix(2)))
                _ = try await self.connection.readUntilClosed(timeout: timeout)
                return frame
            }
            precondition(skippingData, "expected a close frame, got opcode \(frame.opcode): \(frame.text)")
        }
    }

    /// Sends a ping and waits for its pong: everything sent before it has been processed by the server.
    func sync(timeout: Duration = .seconds(10)) async throws {
        let token = Array("sync".utf8)
        try await self.send(opcode: 0x9, payload: token)
        while true {
            let frame = try await self.nextFrame(timeout: timeout)
            if frame.opcode == 0xA && frame.payload == token { return }
            precondition(frame.opcode == 0x9, "unexpected frame while syncing: opcode \(frame.opcode)")
        }
    }

    func close() async {
        await self.connection.close()
    }
}
