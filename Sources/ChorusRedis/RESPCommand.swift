import NIOCore

/// A command for Redis, already encoded as a RESP array of bulk strings (the only form servers accept from
/// clients). Encoded once by whoever builds it, so the connection's loop only writes bytes.
public struct RESPCommand: Sendable {
    /// The encoded command.
    public let bytes: ByteBuffer
    /// The command's name, for errors and logs (never its arguments: they may hold a password or a message).
    public let name: String

    /// `name` followed by `arguments`, each as a bulk string.
    public init(_ name: String, _ arguments: [String], allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.init(name, arguments.map { ByteBuffer(string: $0) }, allocator: allocator)
    }

    /// `name` followed by `arguments`, each as a bulk string; the arguments' bytes are copied once.
    public init(_ name: String, _ arguments: [ByteBuffer], allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        let size = 16 + name.utf8.count + arguments.reduce(0) { $0 + $1.readableBytes + 16 }
        var bytes = allocator.buffer(capacity: size)
        bytes.writeString("*\(arguments.count + 1)\r\n$\(name.utf8.count)\r\n\(name)\r\n")
        for argument in arguments {
            bytes.writeString("$\(argument.readableBytes)\r\n")
            bytes.writeImmutableBuffer(argument)
            bytes.writeString("\r\n")
        }
        self.bytes = bytes
        self.name = name
    }

    /// A command its caller has already encoded (to write a prefix and a payload without joining them first).
    public init(name: String, encoded bytes: ByteBuffer) {
        self.bytes = bytes
        self.name = name
    }
}
