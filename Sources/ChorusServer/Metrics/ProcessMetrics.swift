import Prometheus

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The standard `process_*` family, read from /proc on Linux at scrape time (zero elsewhere).
package struct ProcessMetrics: Sendable {
    let residentMemory: Gauge
    let virtualMemory: Gauge
    let cpuSeconds: Counter
    let openFDs: Gauge
    let maxFDs: Gauge
    let startTime: Gauge

    init(registry r: PrometheusCollectorRegistry) {
        self.residentMemory = r.makeGauge(
            descriptor: .named("process_resident_memory_bytes", help: "Resident memory size in bytes.")
        )
        self.virtualMemory = r.makeGauge(
            descriptor: .named("process_virtual_memory_bytes", help: "Virtual memory size in bytes.")
        )
        self.cpuSeconds = r.makeCounter(
            descriptor: .named("process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.")
        )
        self.openFDs = r.makeGauge(
            descriptor: .named("process_open_fds", help: "Number of open file descriptors.")
        )
        self.maxFDs = r.makeGauge(
            descriptor: .named("process_max_fds", help: "Maximum number of open file descriptors.")
        )
        self.startTime = r.makeGauge(
            descriptor: .named(
                "process_start_time_seconds",
                help: "Start time of the process since unix epoch in seconds."
            )
        )
    }

    /// One reading of the process's resources.
    package struct Sample: Sendable {
        package var residentBytes = 0
        package var virtualBytes = 0
        package var cpuSeconds = 0.0
        package var openFDs = 0
        package var maxFDs = 0
        package var startTime = 0.0
    }

    /// Reads /proc/self. Returns zeros where /proc is unavailable.
    package static func sample() -> Sample {
        var sample = Sample()
        #if os(Linux)
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
            if let stat = readFile("/proc/self/stat"), let close = stat.lastIndex(of: ")") {
                // Fields after "pid (comm)": state is field 3, so field N is at index N - 3.
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                func field(_ number: Int) -> Double { Double(fields[number - 3]) ?? 0 }
                if fields.count > 21 {
                    sample.cpuSeconds = (field(14) + field(15)) / ticks
                    sample.virtualBytes = Int(field(23))
                    sample.residentBytes = Int(field(24)) * pageSize
                    if let bootTime = Self.bootTime() { sample.startTime = bootTime + field(22) / ticks }
                }
            }
            sample.openFDs = Self.countOpenFDs()
            var limit = rlimit()
            if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { sample.maxFDs = Int(limit.rlim_cur) }
        #endif
        return sample
    }

    /// Resident memory alone (`/proc/self/statm`, one short read), for the periodic memory sample of admission;
    /// 0 where /proc is unavailable.
    package static func residentBytes() -> Int {
        #if os(Linux)
            // statm: size resident shared text lib data dt, in pages.
            guard let statm = readFile("/proc/self/statm") else { return 0 }
            let fields = statm.split(separator: " ")
            guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
            return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        #else
            return 0
        #endif
    }

    func update(with sample: Sample) {
        self.residentMemory.set(Int64(sample.residentBytes))
        self.virtualMemory.set(Int64(sample.virtualBytes))
        self.cpuSeconds.reset()
        self.cpuSeconds.increment(by: sample.cpuSeconds)
        self.openFDs.set(Int64(sample.openFDs))
        self.maxFDs.set(Int64(sample.maxFDs))
        self.startTime.set(sample.startTime)
    }

    #if os(Linux)
        private static func bootTime() -> Double? {
            guard let stat = readFile("/proc/stat") else { return nil }
            for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
                return Double(line.dropFirst("btime ".count))
            }
            return nil
        }

        private static func countOpenFDs() -> Int {
            guard let directory = opendir("/proc/self/fd") else { return 0 }
            defer { closedir(directory) }
            var count = 0
            while let entry = readdir(directory) {
                if entry.pointee.d_name.0 != CChar(UInt8(ascii: ".")) { count += 1 }
            }
            return max(0, count - 1)  // the directory stream's own descriptor
        }
    #endif

    /// The whole of a small file (under /proc or /sys), or nil when it cannot be opened.
    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
