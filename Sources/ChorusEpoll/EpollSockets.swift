#if os(Linux)
    import Glibc
    import NIOCore

    /// The few socket calls the epoll transport makes outside its loop: binding the listener, naming peers.
    package enum EpollSockets {
        /// A non-blocking listening socket on `address` with SO_REUSEADDR (a restart need not wait out TIME_WAIT).
        /// Not SO_REUSEPORT: a second server on the same port must fail to start ("address in use"), not
        /// silently take half of the connections.
        package static func listen(on address: SocketAddress, backlog: Int32 = 4096) throws -> Int32 {
            let fd = socket(Int32(address.protocol.rawValue), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw EpollError.system("socket", errno) }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            let bound = address.withSockAddr { Glibc.bind(fd, $0, socklen_t($1)) }
            guard bound == 0 else {
                let error = errno
                Glibc.close(fd)
                throw EpollError.system("bind", error)
            }
            guard Glibc.listen(fd, backlog) == 0 else {
                let error = errno
                Glibc.close(fd)
                throw EpollError.system("listen", error)
            }
            return fd
        }

        /// The local address of `fd` (the port a listener on port 0 got).
        package static func localAddress(of fd: Int32) -> SocketAddress? {
            self.address(of: fd, getsockname)
        }

        /// The peer address of a connected socket.
        package static func peerAddress(of fd: Int32) -> SocketAddress? {
            self.address(of: fd, getpeername)
        }

        private static func address(
            of fd: Int32,
            _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
        ) -> SocketAddress? {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let result = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
            }
            guard result == 0 else { return nil }
            switch Int32(storage.ss_family) {
            case AF_INET:
                return withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee) }
                }
            case AF_INET6:
                return withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee) }
                }
            default:
                return nil
            }
        }
    }
#endif
