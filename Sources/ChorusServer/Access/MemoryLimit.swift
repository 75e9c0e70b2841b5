#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The memory limit admission compares use against, and where use is read: `--memory-limit` (use is the
/// process's resident memory), or the cgroup v2 `memory.max` of the process's own cgroup (use is that cgroup's
/// `memory.current`, what the kernel's OOM killer compares against it).
package struct MemoryLimit: Sendable, Equatable {
    /// Where the limit came from.
    package enum Source: Sendable, Equatable {
        /// `--memory-limit`: use is the process's resident memory.
        case configured
        /// A cgroup v2 directory's `memory.max`: use is its `memory.current`.
        case cgroup(directory: String)
    }

    package let bytes: Int
    package let source: Source

    package init(bytes: Int, source: Source) {
        self.bytes = bytes
        self.source = source
    }

    /// The limit in force: `configured` when given (it wins), else the cgroup's, else nil (admission by memory
    /// is off).
    package static func discover(
        configured: Int?,
        procSelfCgroup: String = "/proc/self/cgroup",
        cgroupRoot: String = "/sys/fs/cgroup"
    ) -> MemoryLimit? {
        if let configured { return MemoryLimit(bytes: configured, source: .configured) }
        guard let membership = ProcessMetrics.readFile(procSelfCgroup),
            let path = Self.unifiedPath(inProcSelfCgroup: membership)
        else { return nil }
        let directory = cgroupRoot + (path == "/" ? "" : path)
        guard let text = ProcessMetrics.readFile(directory + "/memory.max"),
            let bytes = Self.limit(inMemoryMax: text)
        else { return nil }
        return MemoryLimit(bytes: bytes, source: .cgroup(directory: directory))
    }

    /// The memory used now, as compared against `bytes`; nil when it cannot be read.
    package func usedBytes() -> Int? {
        switch self.source {
        case .configured:
            let resident = ProcessMetrics.residentBytes()
            return resident > 0 ? resident : nil
        case .cgroup(let directory):
            return ProcessMetrics.readFile(directory + "/memory.current").flatMap { Self.integer($0) }
        }
    }

    /// The cgroup v2 path in `/proc/self/cgroup`: the `0::/path` line (cgroup v1 hierarchies have other numbers).
    package static func unifiedPath(inProcSelfCgroup text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            let path = line.dropFirst(3)
            return path.hasPrefix("/") ? String(path) : nil
        }
        return nil
    }

    /// A `memory.max` value: a number of bytes, or nil for `max` (no limit) and anything unreadable.
    package static func limit(inMemoryMax text: String) -> Int? {
        guard let bytes = Self.integer(text), bytes > 0 else { return nil }
        return bytes
    }

    private static func integer(_ text: String) -> Int? {
        Int(text.filter { !$0.isWhitespace })
    }
}
