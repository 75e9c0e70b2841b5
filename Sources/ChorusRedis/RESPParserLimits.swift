/// Bounds on what a `RESPParser` accepts, so a broken or hostile server cannot make Chorus buffer or nest
/// without limit. Anything beyond them is a `RESPParseError`, never an allocation.
public struct RESPParserLimits: Sendable, Equatable {
    /// Longest bulk string (bytes). Redis's own default `proto-max-bulk-len` is 512 MiB; Chorus's messages are
    /// far smaller, so the default is 64 MiB.
    public var maxBulkBytes: Int64 = 64 * 1024 * 1024
    /// Most elements in one array, set, push or map (a map counts its keys and values).
    public var maxElements: Int64 = 1024 * 1024
    /// Deepest nesting of aggregates (Chorus's replies nest at most two deep).
    public var maxDepth = 16
    /// Longest simple string, error, integer or other line (bytes, before the CRLF).
    public var maxLineBytes = 64 * 1024

    public init() {}
}
