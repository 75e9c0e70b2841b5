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
            guard let stat = ProcFile.read("/proc/\(pid)/stat", maxBytes: 4096) else { return nil }
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
