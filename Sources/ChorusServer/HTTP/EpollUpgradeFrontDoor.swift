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

    /// The server's half of the epoll transport: upgrades get the same decision and ticket (`UpgradePolicy.admit`)
    /// as on the NIO transport; everything else (plain HTTP, refused upgrades with their refusal, heads this side
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

        func admit(_ head: RequestHeadView, fd: Int32) -> EpollUpgradeDecision {
            // The peer's address matters only to a per-address limit; building it costs two allocations.
            let peer = self.policy.access.perAddress == nil ? nil : EpollSockets.peerAddress(of: fd)
            switch self.policy.admit(head, peer: peer) {
            case .success(let ticket): return .upgrade(ticket)
            case .failure(let rejection): return .refuse(rejection)
            }
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

        func acceptFailed(errno: Int32) {
            self.policy.state.countAcceptFailure()
            self.logger.warning("accept failed; pausing accepts for 100 ms", metadata: ["errno": "\(errno)"])
        }
    }
#endif
