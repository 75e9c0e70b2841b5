#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One status line on standard error, rewritten in place (standard output stays clean for the JSON).
struct ProgressLine {
    var enabled: Bool
    private var lastLength = 0

    init(enabled: Bool) { self.enabled = enabled }

    mutating func show(_ text: String) {
        guard self.enabled else { return }
        let padding = String(repeating: " ", count: max(0, self.lastLength - text.count))
        self.lastLength = text.count
        Self.writeError("\r" + text + padding)
    }

    /// Ends the line so that what follows starts on a fresh one.
    mutating func finish() {
        guard self.enabled, self.lastLength > 0 else { return }
        self.lastLength = 0
        Self.writeError("\n")
    }

    static func writeError(_ text: String) {
        var text = text
        text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
    }
}
