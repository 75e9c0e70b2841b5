#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a small /proc file (Linux) in one read; nil when it is not there.
enum ProcFile {
    static func read(_ path: String, maxBytes: Int = 8192) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: maxBytes)
        let count = bytes.withUnsafeMutableBytes { buffer in
            #if canImport(Glibc)
                Glibc.read(fd, buffer.baseAddress, maxBytes)
            #else
                Darwin.read(fd, buffer.baseAddress, maxBytes)
            #endif
        }
        guard count > 0 else { return nil }
        return String(decoding: bytes[0..<count], as: UTF8.self)
    }
}
