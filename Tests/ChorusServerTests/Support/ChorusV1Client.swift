import ChorusServer
import Foundation
import NIOCore

/// A `chorus.v1` client over `TestWebSocket`: its control messages and deliveries decoded as documented.
struct ChorusV1Client: Sendable {
    let socket: TestWebSocket

    /// A text delivery or control message as JSON, or a binary delivery's header and payload.
    struct Message: Sendable {
        var opcode: UInt8
        var json: [String: any Sendable]
        /// Binary deliveries: the header's fields and the payload after it.
        var channel: String?
        var offset: UInt64?
        var epoch: String?
        var payload: [UInt8] = []

        /// The delivery's offset (text or binary).
        var deliveryOffset: UInt64? { self.offset ?? (self.json["offset"] as? NSNumber)?.uint64Value }
        var string: (String) -> String? { { self.json[$0] as? String } }
    }

    /// Connects to `path` offering the `chorus.v1` subprotocol (or not, with `subprotocol: nil`).
    static func connect(
        port: Int,
        path: String,
        subprotocol: String? = "chorus.v1",
        extraHeaders: [String] = []
    ) async throws -> ChorusV1Client {
        let headers = (subprotocol.map { ["Sec-WebSocket-Protocol: \($0)"] } ?? []) + extraHeaders
        return ChorusV1Client(socket: try await TestWebSocket.connect(port: port, path: path, extraHeaders: headers))
    }

    func send(_ json: String) async throws {
        try await self.socket.sendText(json)
    }

    /// The next data message, decoded.
    func next(timeout: Duration = .seconds(10)) async throws -> Message {
        let frame = try await self.socket.nextMessage(timeout: timeout)
        switch frame.opcode {
        case 0x1:
            let object = try JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any] ?? [:]
            return Message(opcode: 0x1, json: object.mapValues { Self.sendable($0) })
        case 0x2:
            var bytes = frame.payload[...]
            precondition(bytes.popFirst() == 0x01, "binary envelope format 1")
            let channelLength = Int(bytes.popFirst()!)
            let channel = String(decoding: bytes.prefix(channelLength), as: UTF8.self)
            bytes = bytes.dropFirst(channelLength)
            let offset = bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            bytes = bytes.dropFirst(8)
            let epochLength = Int(bytes.popFirst()!)
            let epoch = String(decoding: bytes.prefix(epochLength), as: UTF8.self)
            return Message(
                opcode: 0x2,
                json: [:],
                channel: channel,
                offset: offset,
                epoch: epoch,
                payload: Array(bytes.dropFirst(epochLength))
            )
        default:
            throw UnexpectedFrame(opcode: frame.opcode, text: frame.text)
        }
    }

    /// Reads the `subscribed` answer for `channel` and returns its offset, epoch and `recovered`.
    func subscribed(_ channel: String) async throws -> (offset: UInt64, epoch: String, recovered: Bool) {
        let answer = try await self.next()
        guard answer.string("subscribed") == channel, let offset = answer.deliveryOffset,
            let epoch = answer.string("epoch"), let recovered = answer.json["recovered"] as? Bool
        else { throw UnexpectedFrame(opcode: answer.opcode, text: "\(answer.json)") }
        return (offset, epoch, recovered)
    }

    private static func sendable(_ value: Any) -> any Sendable {
        switch value {
        case let string as String: string
        case let number as NSNumber: number
        case let dictionary as [String: Any]: dictionary.mapValues { sendable($0) }
        case let array as [Any]: array.map { sendable($0) }
        default: "\(value)"
        }
    }

    struct UnexpectedFrame: Error {
        var opcode: UInt8
        var text: String
    }
}
