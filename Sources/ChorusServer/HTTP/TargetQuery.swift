import NIOHTTP1

/// The query of a request target, read as bytes where they lie: a target without the parameters a caller looks for
/// costs no allocation (the upgrade policy's fast path).
enum TargetQuery {
    /// Calls `parameter` with each `name=value` pair of `target`'s query, in order (a pair without `=` has an empty
    /// value), and stops at the first error it throws.
    static func forEach(
        in target: UnsafeRawBufferPointer,
        _ parameter: (
            _ name: Slice<UnsafeRawBufferPointer>, _ value: Slice<UnsafeRawBufferPointer>
        ) throws(HTTPRejection) -> Void
    ) throws(HTTPRejection) {
        guard let mark = target.firstIndex(of: UInt8(ascii: "?")) else { return }
        var rest = target[(mark + 1)...]
        while !rest.isEmpty {
            let end = rest.firstIndex(of: UInt8(ascii: "&")) ?? rest.endIndex
            let pair = rest[..<end]
            rest = end < rest.endIndex ? rest[(end + 1)...] : rest[end...]
            let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
            try parameter(pair[..<equals], equals < pair.endIndex ? pair[(equals + 1)...] : pair[equals...])
        }
    }
}
