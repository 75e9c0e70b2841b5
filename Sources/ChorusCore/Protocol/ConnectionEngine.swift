import NIOCore

/// What a connection does with each decoded event and with a close the server starts, decided once for both
/// transports: they carry the decisions out through `ConnectionActions`.
///
/// The transports call it across modules, where (as built here) the calls stay generic rather than specialized
/// (checked in the release binary): so it never mutates a `ConnectionActions` property in place — a generic call to
/// a `modify` accessor allocates the accessor's coroutine frame when it outgrows the caller's buffer (the NIO
/// handler's, with its exclusivity record, did) — but reads it and sets it back (`updateMachine`). Nothing is
/// allocated per event beyond the frames it encodes.
package enum ConnectionEngine {
    /// Decodes the bytes a connection read and acts on every event, until `input` is used up or the connection
    /// stops reading (closing, or released while handling an event). `decoder` is the connection's: it keeps a
    /// partly received frame or message between calls, and its buffers go back to the pool if the connection is
    /// released meanwhile.
    @inlinable
    package static func received(
        _ input: inout ByteBuffer,
        decoder: inout InboundFrameDecoder,
        id: ConnectionID,
        shard: Shard,
        hub: Hub,
        connection: inout some ConnectionActions
    ) {
        shard.touch(id)
        let inflater = connection.deflateWindowBits != 0 ? shard.inflater : nil
        while let event = decoder.next(from: &input, pool: shard.pool, inflater: inflater) {
            // `consume`: the event's buffer must be let go before the decoder's buffers return to the pool (a
            // buffer still shared there is replaced by a fresh allocation).
            Self.handle(consume event, id: id, shard: shard, hub: hub, connection: &connection)
            guard !connection.isReleased else {
                decoder.releaseBuffers(to: shard.pool)
                return
            }
            let state = connection.machine.state
            if state == .closed || state == .closingByPeer { return }
        }
    }

    /// Acts on one event the decoder produced for connection `id` of `shard`.
    @inlinable
    package static func handle(
        _ event: InboundEvent,
        id: ConnectionID,
        shard: Shard,
        hub: Hub,
        connection: inout some ConnectionActions
    ) {
        switch event {
        case .text(let message):
            guard connection.machine.isOpen else { return }
            switch shard.wireProtocol(of: id) {
            case .native:
                guard
                    let close = SubscriberCommands.apply(
                        message,
                        id: id,
                        shard: shard,
                        hub: hub,
                        grant: connection.grant
                    )
                else { return }
                Self.close(
                    code: close.code,
                    reason: close.reason,
                    because: close.cause,
                    id: id,
                    shard: shard,
                    connection: &connection
                )
            case .chorusV1:
                ChorusV1Commands.apply(message, id: id, shard: shard, hub: hub, grant: connection.grant)
            case .echo:
                Self.echo(message, opcode: .text, id: id, shard: shard, connection: &connection)
            }
        case .binary(let message):
            guard connection.machine.isOpen else { return }
            switch shard.wireProtocol(of: id) {
            case .native, .chorusV1:
                Self.close(
                    code: .unsupportedData,
                    reason: "binary messages are not accepted",
                    because: .protocolError,
                    id: id,
                    shard: shard,
                    connection: &connection
                )
            case .echo:
                Self.echo(message, opcode: .binary, id: id, shard: shard, connection: &connection)
            }
        case .ping(let payload):
            guard connection.machine.isOpen else { return }
            switch shard.pingReceived(id, pongWaiting: connection.pongMustWait) {
            case .write:
                connection.writePong(FrameEncoder.pong(payload: payload, allocator: connection.allocator))
            case .replaceWaiting:
                connection.holdPong(FrameEncoder.pong(payload: payload, allocator: connection.allocator))
            case .none:
                break
            }
        case .pong:
            shard.pongReceived(id)
        case .close(let code, _):
            switch Self.updateMachine(&connection, { $0.peerClosed() }) {
            case .echoThenCloseSocket:
                connection.closeReason = code == CloseCode.goingAway.rawValue ? .goingAway : .normal
                shard.markClosing(id)
                connection.writeThenCloseSocket(FrameEncoder.closeEcho(code: code, allocator: connection.allocator))
            case .closeSocket:
                connection.closeSocket()
            case .ignore:
                break
            }
        case .failure(let code, let reason):
            guard Self.updateMachine(&connection, { $0.closeRequested() }) else {
                connection.closeSocket()
                return
            }
            // The peer broke the protocol: say why, then close without waiting for its answer.
            connection.closeReason = CloseReason(failure: code)
            shard.markClosing(id)
            connection.writeThenCloseSocket(
                FrameEncoder.close(code: code, reason: reason, allocator: connection.allocator)
            )
        }
    }

    /// Starts a close from our side (a refused command, idle, slow consumer, shutdown, token expiry): the close
    /// frame, then a wait for the peer's answer. Nothing when the connection is already closing.
    @inlinable
    package static func close(
        code: CloseCode,
        reason: String,
        because cause: CloseReason,
        id: ConnectionID,
        shard: Shard,
        connection: inout some ConnectionActions
    ) {
        guard Self.updateMachine(&connection, { $0.closeRequested() }) else { return }
        connection.closeReason = cause
        shard.markClosing(id)
        connection.write(FrameEncoder.close(code: code, reason: reason, allocator: connection.allocator))
        shard.awaitPeerClose(id)
    }

    /// The connection can take a pong again (the queue its waiting pong stood behind drained, or the pong before it
    /// was written): the waiting pong, the answer to the latest ping, for the transport to write now; nil when none
    /// waits or the connection is closing (nothing follows a close frame).
    @inlinable
    package static func pongReady(connection: inout some ConnectionActions) -> ByteBuffer? {
        guard let pong = connection.takeWaitingPong() else { return nil }
        return connection.machine.isOpen ? pong : nil
    }

    /// The close we started got no answer within the close timeout (the loop's deadlines, `Shard.runDueDeadlines`):
    /// the socket closes, with the reason the close gave.
    @inlinable
    package static func closeTimedOut(connection: inout some ConnectionActions) {
        guard connection.machine.state != .closed else { return }
        connection.closeSocket()
    }

    /// Sends a message back the way a broadcast goes out: encoded once into a `Frame` (a copy, since the decoder
    /// reuses `message`), then written by the shard, subject to the slow-consumer policy.
    @inlinable
    static func echo(
        _ message: ByteBuffer,
        opcode: WebSocketOpcode,
        id: ConnectionID,
        shard: Shard,
        connection: inout some ConnectionActions
    ) {
        let frame = Frame(opcode: opcode, payload: message)
        // With permessage-deflate every echo is compressed, whatever its size: the conformance cases then
        // exercise compression at every size, and kosoku (the Autobahn runner) fails a case when an echo on a
        // compressed connection comes back uncompressed, although RFC 7692 allows that.
        let compressed = connection.deflateWindowBits != 0 ? CompressedFrames(plain: frame, alwaysCompress: true) : nil
        _ = shard.deliver(frame, compressed: compressed, toConnection: id)
    }

    /// Runs `body` on a copy of the connection's state machine and stores it back: a get and a set, never the
    /// property's `modify` accessor (see the type's comment).
    @inlinable
    package static func updateMachine<Result>(
        _ connection: inout some ConnectionActions,
        _ body: (inout WebSocketConnectionStateMachine) -> Result
    ) -> Result {
        var machine = connection.machine
        defer { connection.machine = machine }
        return body(&machine)
    }
}
