#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's open-file limit: raised to the hard limit at start, then checked against the plan, so that
/// a run that cannot fit fails before it opens a single socket rather than at connection 19,990.
enum DescriptorLimit {
    /// Descriptors the tool needs besides one per connection: stdio, the event loops' epoll and eventfd/timerfd,
    /// the publisher, /metrics scrapes, /proc reads, with room to spare.
    static let overhead = 64

    /// Raises the soft limit to the hard limit and returns the new soft limit.
    static func raise() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// Throws when `connections` sockets plus the tool's own descriptors would not fit.
    static func check(connections: Int) throws(BenchError) {
        let limit = Self.raise()
        guard connections + Self.overhead <= limit else {
            throw BenchError(
                "\(connections) connections need about \(connections + Self.overhead) descriptors, but this "
                    + "process may open \(limit) (RLIMIT_NOFILE hard limit). Lower --connections to "
                    + "\(max(0, limit - Self.overhead)) or raise the hard limit (ulimit -Hn as root)."
            )
        }
    }
}
