import ChorusCore
import ChorusRedis
import NIOCore

/// The Lua scripts that make a channel's stream the same on every node: Redis assigns each message's offset, keeps
/// the channel's epoch and recent history, and publishes the message with its position — atomically, so that no node
/// can see a message without its offset or two messages with one.
///
/// Keys per channel: `chorus:meta:<channel>` (a hash: `epoch`, `offset`) and `chorus:stream:<channel>` (a Redis
/// stream of the messages as published, IDs `0-<offset>`, trimmed to about the history size). The meta expires a
/// day after the last publish, the stream `--history-ttl` after it; a channel whose meta is gone starts a new epoch.
package enum ClusterScripts {
    /// KEYS: meta, stream. ARGV: header (format, opcode, flags), payload, a new epoch in case the channel has none,
    /// history size (0: no stream), history TTL (ms), meta TTL (ms), the Redis channel to publish on.
    /// Returns `{offset, epoch, receivers}`.
    package static let publish = """
        local epoch = redis.call('HGET', KEYS[1], 'epoch')
        if not epoch then
          epoch = ARGV[3]
          redis.call('DEL', KEYS[2])
          redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
        end
        local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
        local message = ARGV[1] .. string.char(#epoch) .. epoch .. string.format('%020d', offset) .. ARGV[2]
        if tonumber(ARGV[4]) > 0 then
          redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '0-' .. string.format('%d', offset), 'm', message)
          redis.call('PEXPIRE', KEYS[2], ARGV[5])
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[6])
        local receivers = redis.call('PUBLISH', ARGV[7], message)
        return {offset, epoch, receivers}
        """

    /// KEYS: meta, stream. ARGV: the offset to read after, the most messages to read (0: the position only), a new
    /// epoch in case the channel has none, meta TTL (ms). Returns `{epoch, offset, {{id, {'m', message}}, …}}`.
    ///
    /// A channel without a stream gets one here (offset 0), so that a subscription answered before the channel's
    /// first message names the epoch that message will carry, on every node.
    static let read = """
        local meta = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
        if not meta[1] then
          redis.call('DEL', KEYS[2])
          redis.call('HSET', KEYS[1], 'epoch', ARGV[3], 'offset', 0)
          redis.call('PEXPIRE', KEYS[1], ARGV[4])
          meta = {ARGV[3], '0'}
        end
        local entries = {}
        if tonumber(ARGV[2]) > 0 then
          local first = '0-' .. string.format('%d', tonumber(ARGV[1]) + 1)
          entries = redis.call('XRANGE', KEYS[2], first, '+', 'COUNT', ARGV[2])
        end
        return {meta[1], meta[2], entries}
        """

    static func metaKey(_ channel: ChannelName) -> String { "chorus:meta:" + channel.value }
    static func streamKey(_ channel: ChannelName) -> String { "chorus:stream:" + channel.value }

    /// `EVALSHA` of `script` (by its SHA1 `sha`, loaded when the bus connected) or `EVAL` with the script itself.
    package static func command(
        _ script: String,
        sha: String?,
        channel: ChannelName,
        arguments: [ByteBuffer],
        allocator: ByteBufferAllocator
    ) -> RESPCommand {
        let keys = [ByteBuffer(string: Self.metaKey(channel)), ByteBuffer(string: Self.streamKey(channel))]
        let head = [ByteBuffer(string: sha ?? script), ByteBuffer(string: "2")]
        return RESPCommand(sha == nil ? "EVAL" : "EVALSHA", head + keys + arguments, allocator: allocator)
    }
}
