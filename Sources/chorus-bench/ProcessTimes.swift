#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A process's user and system CPU time from /proc/<pid>/stat (Linux), for `--server-pid`: the server's
/// `process_cpu_seconds_total` is their sum, and the targets need them apart.
struct ProcessTimes: Sendable {
    var userSeconds = 0.0
    var systemSeconds = 0.0

    /// Reads `pid`'s times; nil when the process or /proc is not there.
    static func read(pid: Int32) -> ProcessTimes? {
        #if os(Linux)
            let fd = open("/proc/\(pid)/stat", O_RDONLY)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var bytes = [UInt8](repeating: 0, count: 4096)
            let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 4096) }
            guard count > 0 else { return nil }
            let stat = String(decoding: bytes[0..<count], as: UTF8.self)
            guard let close = stat.lastIndex(of: ")") else { return nil }
            // After "pid (comm)" the state is field 3, so field N is at index N - 3; utime 14, stime 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            return ProcessTimes(userSeconds: user / ticks, systemSeconds: system / ticks)
        #else
            return nil
        #endif
    }
}
