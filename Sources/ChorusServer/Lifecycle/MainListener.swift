import NIOCore

#if os(Linux)
    import ChorusEpoll
#endif

/// The main port's listener on either transport.
enum MainListener: Sendable {
    /// NIO's server channel.
    case nio(any Channel)
    #if os(Linux)
        /// One listening socket (not SO_REUSEPORT), watched by the first loop's transport, which hands accepted
        /// sockets to every loop in turn; closing asks each transport to stop listening.
        case epoll(address: SocketAddress, transports: [NIOLoopBound<EpollTransport>])
    #endif

    var localAddress: SocketAddress {
        switch self {
        case .nio(let channel): channel.localAddress!
        #if os(Linux)
            case .epoll(let address, _): address
        #endif
        }
    }

    /// Stops accepting connections (graceful shutdown); open connections stay.
    func close() async {
        switch self {
        case .nio(let channel):
            try? await channel.close()
        #if os(Linux)
            case .epoll(_, let transports):
                for transport in transports {
                    try? await transport.eventLoop.submit { transport.value.stopListening() }.get()
                }
        #endif
        }
    }
}
