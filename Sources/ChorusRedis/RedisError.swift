/// Why a Redis command did not get a reply.
public enum RedisError: Error, Equatable, Sendable {
    /// Redis answered with an error reply (`-ERR …`, `-NOAUTH …`, `-WRONGPASS …`).
    case server(String)
    /// The connection closed before the reply arrived (or before the command could be written).
    case connectionClosed
    /// Redis sent bytes that are not RESP; the connection was closed.
    case protocolViolation(RESPParseError)
    /// A reply arrived that no command was waiting for; the connection was closed.
    case unexpectedReply
}
