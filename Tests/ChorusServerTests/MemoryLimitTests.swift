import ChorusServer
import Foundation
import Testing

/// Where memory-aware admission finds its limit: `--memory-limit`, else the process's cgroup v2 `memory.max`
/// (read here from a directory laid out as /proc and /sys/fs/cgroup are).
@Suite("Memory limit: --memory-limit, cgroup v2 memory.max")
struct MemoryLimitTests {
    /// A temporary `/proc/self/cgroup` and cgroup root; `memoryMax`/`memoryCurrent` nil leave the file out.
    private func withCgroup(
        membership: String,
        directory: String,
        memoryMax: String?,
        memoryCurrent: String? = nil,
        _ body: (_ procSelfCgroup: String, _ root: String) throws -> Void
    ) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-cgroup-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let cgroup = base + "/root" + directory
        try FileManager.default.createDirectory(atPath: cgroup, withIntermediateDirectories: true)
        try membership.write(toFile: base + "/cgroup", atomically: true, encoding: .utf8)
        if let memoryMax { try memoryMax.write(toFile: cgroup + "/memory.max", atomically: true, encoding: .utf8) }
        if let memoryCurrent {
            try memoryCurrent.write(toFile: cgroup + "/memory.current", atomically: true, encoding: .utf8)
        }
        try body(base + "/cgroup", base + "/root")
    }

    @Test("the unified cgroup's memory.max is the limit, and its memory.current the use")
    func cgroupLimit() throws {
        try self.withCgroup(
            membership: "12:memory:/v1/ignored\n0::/kubepods/pod-a/chorus\n",
            directory: "/kubepods/pod-a/chorus",
            memoryMax: "1073741824\n",
            memoryCurrent: "536870912\n"
        ) { proc, root in
            let limit = try #require(MemoryLimit.discover(configured: nil, procSelfCgroup: proc, cgroupRoot: root))
            #expect(limit.bytes == 1 << 30)
            #expect(limit.source == .cgroup(directory: root + "/kubepods/pod-a/chorus"))
            #expect(limit.usedBytes() == 1 << 29)
            // The flag wins, and is compared with resident memory.
            let configured = MemoryLimit.discover(configured: 4096, procSelfCgroup: proc, cgroupRoot: root)
            #expect(configured == MemoryLimit(bytes: 4096, source: .configured))
        }
    }

    @Test("no limit: memory.max says max, is missing, or there is no cgroup v2 line")
    func noLimit() throws {
        try self.withCgroup(membership: "0::/\n", directory: "", memoryMax: "max\n") { proc, root in
            #expect(MemoryLimit.discover(configured: nil, procSelfCgroup: proc, cgroupRoot: root) == nil)
        }
        try self.withCgroup(membership: "0::/a\n", directory: "/a", memoryMax: nil) { proc, root in
            #expect(MemoryLimit.discover(configured: nil, procSelfCgroup: proc, cgroupRoot: root) == nil)
        }
        try self.withCgroup(membership: "4:memory:/a\n1:cpu:/a\n", directory: "/a", memoryMax: "1000") { proc, root in
            #expect(MemoryLimit.discover(configured: nil, procSelfCgroup: proc, cgroupRoot: root) == nil)
        }
        // The root cgroup of a container's own namespace is the cgroup root itself.
        try self.withCgroup(membership: "0::/\n", directory: "", memoryMax: "2048\n") { proc, root in
            let limit = MemoryLimit.discover(configured: nil, procSelfCgroup: proc, cgroupRoot: root)
            #expect(limit == MemoryLimit(bytes: 2048, source: .cgroup(directory: root)))
        }
    }
}
