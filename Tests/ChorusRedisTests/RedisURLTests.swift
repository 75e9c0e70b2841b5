import ChorusRedis
import Testing

@Suite("Redis URLs")
struct RedisURLTests {
    @Test(
        "redis://[[user]:password@]host[:port][/db] parses",
        arguments: [
            ("redis://127.0.0.1", RedisURL(host: "127.0.0.1")),
            ("redis://redis:6380", RedisURL(host: "redis", port: 6380)),
            ("redis://redis:6379/3", RedisURL(host: "redis", database: 3)),
            ("redis://:s3cret@redis", RedisURL(host: "redis", password: "s3cret")),
            ("redis://s3cret@redis", RedisURL(host: "redis", password: "s3cret")),
            ("redis://alice:p%40ss%3Aword@redis:7000/2", RedisURL(host: "redis", port: 7000, username: "alice", password: "p@ss:word", database: 2)),
            ("redis://[::1]:6390", RedisURL(host: "::1", port: 6390)),
        ]
    )
    func parses(text: String, expected: RedisURL) throws {
        #expect(try RedisURL(parsing: text) == expected)
    }

    @Test(
        "bad URLs are refused",
        arguments: ["http://redis", "redis://", "redis://host:0", "redis://host:99999", "redis://host:x", "redis://host/x", "redis://a:%zz@h"]
    )
    func refused(text: String) {
        #expect(throws: RedisURLError.self) { try RedisURL(parsing: text) }
    }

    @Test("the description hides the password")
    func redacted() throws {
        let url = try RedisURL(parsing: "redis://alice:secret@redis:6379/1")
        #expect(url.description == "redis://alice:***@redis:6379/1")
        #expect(!url.description.contains("secret"))
    }
}
