#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A process's resident memory split as /proc/<pid>/status splits it (Linux), for `--server-pid`. The first
/// connections of a run page in ~1 MB of the server's code (file-backed, shared, `RssFile`); the anonymous part
/// (`RssAnon`: heap, stacks, mappings of the process's own data) is what connections actually hold.
struct ProcessMemory: Sendable {
    var anonymousBytes = 0.0
    var fileBytes = 0.0

    /// Reads `pid`'s figures; nil when the process or /proc is not there.
    static func read(pid: Int32) -> ProcessMemory? {
        #if os(Linux)
            let fd = open("/proc/\(pid)/status", O_RDONLY)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var bytes = [UInt8](repeating: 0, count: 8192)
            let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 8192) }
            guard count > 0 else { return nil }
            var memory = ProcessMemory()
            for line in String(decoding: bytes[0..<count], as: UTF8.self).split(separator: "\n") {
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard fields.count >= 2, let kilobytes = Double(fields[1]) else { continue }
                switch fields[0] {
                case "RssAnon:": memory.anonymousBytes = kilobytes * 1024
                case "RssFile:": memory.fileBytes = kilobytes * 1024
                default: break
                }
            }
            return memory
        #else
            return nil
        #endif
    }
}
