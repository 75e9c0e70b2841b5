/// Where Redis is and how to log in: `redis://[[user]:password@]host[:port][/db]`.
///
/// The user and password may be percent-encoded (a `@` or `:` in a password as `%40` / `%3A`). Without a user,
/// `AUTH password` logs in as Redis's default user; with one, `AUTH user password` (Redis 6 ACLs).
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    /// The database selected with `SELECT` (pub/sub ignores it, but PUBLISH goes through the same login).
    public var database: Int

    public init(host: String, port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses `redis://…`; throws a message naming what is wrong.
    public init(parsing text: String) throws(RedisURLError) {
        guard text.hasPrefix("redis://") else { throw RedisURLError("must start with redis:// (got '\(text)')") }
        var rest = Substring(text.dropFirst("redis://".count))
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let db = Int(path), db >= 0 else { throw RedisURLError("database must be a number, got '\(path)'") }
                database = db
            }
        }
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                let user = try Self.percentDecoded(userInfo[..<colon])
                username = user.isEmpty ? nil : user
                password = try Self.percentDecoded(userInfo[userInfo.index(after: colon)...])
            } else {
                // `redis://secret@host`: a lone user-info part is the password, as redis-cli reads it.
                password = try Self.percentDecoded(userInfo)
            }
        }
        var host = rest
        var port = 6379
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            // [::1]:6379
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { port = try Self.port(after.dropFirst()) } else if !after.isEmpty {
                throw RedisURLError("unexpected '\(after)' after the address")
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            port = try Self.port(rest[rest.index(after: colon)...])
        }
        guard !host.isEmpty else { throw RedisURLError("needs a host, as in redis://127.0.0.1:6379") }
        self.init(host: String(host), port: port, username: username, password: password, database: database)
    }

    private static func port(_ text: Substring) throws(RedisURLError) -> Int {
        guard let port = Int(text), (1...65535).contains(port) else {
            throw RedisURLError("port must be 1...65535, got '\(text)'")
        }
        return port
    }

    private static func percentDecoded(_ text: Substring) throws(RedisURLError) -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { throw RedisURLError("bad percent-encoding in the user or password") }
            bytes.append(value)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The URL without its password, for logs.
    public var description: String {
        let credentials: String
        switch (self.username, self.password) {
        case (let user?, _?): credentials = "\(user):***@"
        case (nil, _?): credentials = ":***@"
        case (let user?, nil): credentials = "\(user)@"
        case (nil, nil): credentials = ""
        }
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "redis://\(credentials)\(host):\(self.port)/\(self.database)"
    }
}

/// A `--redis` URL that cannot be used.
public struct RedisURLError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
