import NIOCore

/// One reply (or push) from a Redis server, in RESP2 or RESP3.
///
/// Strings stay `ByteBuffer`s: a pub/sub payload is handed on without a copy into `String` or `[UInt8]`.
public enum RESPValue: Sendable, Equatable {
    /// `+OK`: a simple string.
    case simpleString(ByteBuffer)
    /// `-ERR …` (simple error) or `!<n>` (RESP3 blob error).
    case error(ByteBuffer)
    /// `:42`.
    case integer(Int64)
    /// `$<n>`: a bulk string; nil is RESP2's null bulk string `$-1`.
    case bulkString(ByteBuffer?)
    /// `*<n>`: an array; nil is RESP2's null array `*-1`.
    case array([RESPValue]?)
    /// `_`: RESP3 null.
    case null
    /// `#t` / `#f`: RESP3 boolean.
    case boolean(Bool)
    /// `,3.14`: RESP3 double (also `inf`, `-inf`, `nan`).
    case double(Double)
    /// `(123…`: RESP3 big number, kept as its decimal digits.
    case bigNumber(ByteBuffer)
    /// `=<n>`: RESP3 verbatim string with its three-letter format (`txt`, `mkd`).
    case verbatimString(format: String, text: ByteBuffer)
    /// `%<n>`: RESP3 map, as alternating keys and values (order kept; keys may repeat on the wire).
    case map([RESPValue])
    /// `~<n>`: RESP3 set.
    case set([RESPValue])
    /// `><n>`: RESP3 out-of-band push (pub/sub messages under `HELLO 3`).
    case push([RESPValue])

    /// The text of a string-like value (simple, bulk, verbatim), or nil.
    package var string: String? {
        switch self {
        case .simpleString(let bytes), .bulkString(let bytes?), .verbatimString(_, let bytes):
            String(buffer: bytes)
        default:
            nil
        }
    }

    /// The elements of an array, set or push, or nil.
    package var elements: [RESPValue]? {
        switch self {
        case .array(let values?), .set(let values), .push(let values): values
        default: nil
        }
    }
}

extension RESPValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .simpleString(let b): "+\(String(buffer: b))"
        case .error(let b): "-\(String(buffer: b))"
        case .integer(let i): ":\(i)"
        case .bulkString(let b?): "$\(String(buffer: b).debugDescription)"
        case .bulkString(nil): "$nil"
        case .array(let values?): "*\(values)"
        case .array(nil): "*nil"
        case .null: "_"
        case .boolean(let b): "#\(b)"
        case .double(let d): ",\(d)"
        case .bigNumber(let b): "(\(String(buffer: b))"
        case .verbatimString(let format, let text): "=\(format):\(String(buffer: text))"
        case .map(let values): "%\(values)"
        case .set(let values): "~\(values)"
        case .push(let values): ">\(values)"
        }
    }
}
