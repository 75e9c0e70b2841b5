/// Why bytes from a Redis server are not valid RESP. Any of these ends the connection: the stream cannot be
/// resynchronised after a framing error.
public enum RESPParseError: Error, Equatable, Sendable {
    /// The type byte is not one RESP2 or RESP3 defines (or is a streamed type, which Chorus never asks for).
    case unknownType(UInt8)
    /// A line ran longer than `RESPParserLimits.maxLineBytes` without its CRLF.
    case lineTooLong
    /// A CR not followed by LF, or a bulk payload not followed by CRLF.
    case missingLineFeed
    /// A length or integer that is not a plain signed decimal that fits in 64 bits.
    case malformedInteger
    /// A length below -1, or -1 where null is not allowed.
    case invalidLength(Int64)
    /// A bulk, blob error or verbatim string longer than `RESPParserLimits.maxBulkBytes`.
    case bulkTooLarge(Int64)
    /// An aggregate with more elements than `RESPParserLimits.maxElements`.
    case aggregateTooLarge(Int64)
    /// Aggregates nested deeper than `RESPParserLimits.maxDepth`.
    case tooDeep
    /// A RESP3 double, boolean, null, big number or verbatim string that does not follow its format.
    case malformedValue(String)
}
