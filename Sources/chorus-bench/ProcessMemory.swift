/// A process's resident memory split as /proc/<pid>/status splits it (Linux), for `--server-pid`. The first
/// connections of a run page in ~1 MB of the server's code (file-backed, shared, `RssFile`); the anonymous part
/// (`RssAnon`: heap, stacks, mappings of the process's own data) is what connections actually hold.
struct ProcessMemory: Sendable {
    var anonymousBytes = 0.0
    var fileBytes = 0.0

    /// Reads `pid`'s figures; nil when the process or /proc is not there.
    static func read(pid: Int32) -> ProcessMemory? {
        #if os(Linux)
            guard let status = ProcFile.read("/proc/\(pid)/status") else { return nil }
            var memory = ProcessMemory()
            for line in status.split(separator: "\n") {
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
