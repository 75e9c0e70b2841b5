#if os(Linux)
    import ChorusCore
    import ChorusEpoll
    import Logging
    import NIOCore
    import NIOHTTP1
    import NIOPosix

    #if canImport(FoundationEssentials)
        import FoundationEssentials
    #else
        import Foundation
    #endif

    /// The server's half of the epoll transport: accepted upgrades get the same decision (`UpgradePolicy`) and the
    /// same 101 headers as on the NIO transport; everything else (plain HTTP, refused upgrades, heads this side
    /// does not parse) is handed, socket and bytes read so far, to a NIO HTTP pipeline built by the same
    /// `ChannelInitializer`, which answers exactly as the NIO transport does.
    final class EpollUpgradeFrontDoor: EpollFrontDoor {
        private let policy: UpgradePolicy
        private let initializer: ChannelInitializer
        private let httpGroup: any EventLoopGroup
        private let logger: Logger

        init(policy: UpgradePolicy, initializer: ChannelInitializer, httpGroup: any EventLoopGroup, logger: Logger) {
            self.policy = policy
            self.initializer = initializer
            self.httpGroup = httpGroup
            self.logger = logger
        }

        /// The client address a per-address limit counted, handed back when the connection goes.
        private final class AddressTicket {
            let address: IPAddress
            init(address: IPAddress) { self.address = address }
        }

        func admit(_ head: RequestHeadView, fd: Int32, response: inout ByteBuffer) -> EpollAdmission? {
            // The peer's address matters only to a per-address limit; building it costs two allocations.
            let peer = self.policy.access.perAddress == nil ? nil : EpollSockets.peerAddress(of: fd)
            guard case .success(let admission) = self.policy.evaluate(head, peer: peer) else { return nil }
            let hub = self.policy.hub
            // Past either limit the HTTP side answers (it evaluates again and refuses with the same status).
            guard hub.reserveConnection(limit: self.policy.configuration.maxConnections) else { return nil }
            var ticket: AddressTicket?
            if let perAddress = self.policy.access.perAddress, let address = admission.clientAddress {
                guard perAddress.reserve(address) else {
                    hub.releaseConnection()
                    return nil
                }
                ticket = AddressTicket(address: address)
            }
            // Written straight into the loop's buffer: no allocation once it has grown to the usual answer.
            response.writeStaticString(
                "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n"
            )
            response.writeStaticString("Sec-WebSocket-Accept: ")
            admission.secWebSocketAccept.write(to: &response)
            response.writeStaticString("\r\n")
            admission.forEachNegotiatedHeader { name, value in
                response.writeString(name)
                response.writeStaticString(": ")
                response.writeString(value)
                response.writeStaticString("\r\n")
            }
            response.writeStaticString("\r\n")
            let channels: ChannelList
            switch admission.endpoint {
            case .subscriber(let names): channels = names
            case .echo: channels = []
            }
            let expiry = admission.token?.expiryDeadline
            return EpollAdmission(
                channels: channels,
                isEcho: admission.endpoint == .echo,
                grant: admission.token?.grant,
                deflate: admission.deflate,
                tokenExpiry: expiry,
                releaseContext: ticket
            )
        }

        func handOff(fd: Int32, bytes: ByteBuffer, reason: HandOffReason) {
            let initializer = self.initializer
            let logger = self.logger
            ClientBootstrap(group: self.httpGroup)
                .channelOption(.autoRead, value: false)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try initializer.initialize(channel, handedOff: reason)
                    }
                }
                .withConnectedSocket(fd)
                .whenComplete { result in
                    switch result {
                    case .success(let channel):
                        // Replay what the epoll side read, then let NIO read the rest.
                        channel.eventLoop.execute {
                            channel.pipeline.fireChannelRead(bytes)
                            channel.setOption(.autoRead, value: true).whenFailure { _ in channel.close(promise: nil) }
                        }
                    case .failure(let error):
                        logger.debug("handing a connection to the HTTP side failed", metadata: ["error": "\(error)"])
                    }
                }
        }

        func handshakeTimedOut() {
            self.policy.state.countRejection(.timeout)
        }

        func connectionReleased(_ context: AnyObject?) {
            if let ticket = context as? AddressTicket {
                self.policy.access.perAddress?.release(ticket.address)
            }
            self.policy.hub.releaseConnection()
        }

        func acceptFailed(errno: Int32) {
            self.policy.state.countAcceptFailure()
            self.logger.warning("accept failed; pausing accepts for 100 ms", metadata: ["errno": "\(errno)"])
        }
    }
#endif
