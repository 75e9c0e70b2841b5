#if os(Linux)
    import ChorusCore
    import ChorusEpoll
    import Glibc
    import NIOCore

    extension ChorusServer {
        /// Binds one listening socket on the main port (SO_REUSEADDR, not SO_REUSEPORT: see `EpollSockets.listen`)
        /// and starts each loop's transport; the first loop's transport accepts, handing the sockets to every loop
        /// in turn. With port 0 the kernel picks the port, read back from the socket.
        func startEpoll(access: AccessControl, initializer: ChannelInitializer) async throws -> MainListener {
            let policy = UpgradePolicy(configuration: self.configuration, hub: self.hub, state: self.state, access: access)
            let frontDoor = EpollUpgradeFrontDoor(
                policy: policy,
                initializer: initializer,
                httpGroup: self.group,
                logger: self.logger
            )
            var settings = EpollTransportSettings()
            settings.socketSendBufferBytes = self.configuration.socketSendBufferBytes
            settings.maxPendingBytes = self.configuration.maxPendingBytes
            settings.maxHeadBytes = ChannelInitializer.maxRequestHeadBytes
            // Enough for the connection limit spread evenly, capped so a huge limit reserves no absurd address space.
            let loopCount = self.configuration.eventLoops
            settings.expectedConnections = min(
                (self.configuration.maxConnections + loopCount - 1) / loopCount,
                1 << 20
            )
            let requested = try SocketAddress.makeAddressResolvingHost(self.configuration.host, port: self.configuration.port)
            // One listener; its loop hands accepted sockets to every loop in turn, so connections spread evenly.
            let fd = try EpollSockets.listen(on: requested)
            let address = EpollSockets.localAddress(of: fd) ?? requested
            let loops = self.hub.shards.map { shard in
                guard let loop = shard.eventLoop as? EpollEventLoop else {
                    fatalError("Internal inconsistency: an epoll shard on \(shard.eventLoop)")
                }
                return loop
            }
            let transportSettings = settings
            var transports: [NIOLoopBound<EpollTransport>] = []
            let hub = self.hub
            for loop in loops {
                transports.append(
                    try await loop.submit {
                        let transport = EpollTransport(loop: loop, hub: hub, frontDoor: frontDoor, settings: transportSettings)
                        loop.handler = transport
                        if loop === loops[0] { transport.listen(on: fd, peers: loops) }
                        return NIOLoopBound(transport, eventLoop: loop)
                    }.get()
                )
            }
            return .epoll(address: address, transports: transports)
        }
    }
#endif
