import ChorusRedis
import NIOCore

/// How the cluster bus reaches Redis and how it retries.
package struct ClusterSettings: Sendable {
    /// Where Redis is, with the login and database.
    package var url: RedisURL
    /// Subscribe to the pattern `chorus:*` instead of to each channel with local subscribers.
    package var usePattern = false
    /// Messages from Redis larger than this (the node's `--max-message-bytes`) are dropped.
    package var maxMessageBytes = 64 * 1024
    /// First reconnect delay; doubled after each failed attempt up to `reconnectMax`, then jittered down by up
    /// to half so that nodes that lost Redis together do not return together.
    package var reconnectBase: TimeAmount = .milliseconds(100)
    /// Longest reconnect delay.
    package var reconnectMax: TimeAmount = .seconds(5)
    /// Time to open a TCP connection to Redis.
    package var connectTimeout: TimeAmount = .seconds(2)
    /// How often the publishing connection sends PING to detect a Redis that stopped answering.
    package var pingInterval: TimeAmount = .seconds(5)
    /// How long a PING may go unanswered before the connections are dropped and remade.
    package var pingTimeout: TimeAmount = .seconds(3)

    /// Messages of each channel's history kept in Redis (`--history-size`; 0 keeps none).
    package var historySize = 0
    /// How long Redis keeps a channel's history after its last publish (`--history-ttl`).
    package var historyTTL: TimeAmount = .minutes(5)
    /// How long Redis keeps a channel's offset and epoch after its last publish.
    package var streamTTL: TimeAmount = .hours(24)

    package init(url: RedisURL) {
        self.url = url
    }

    /// The delay before reconnect attempt `attempt` (0-based), with its jitter drawn from `random` (0.5...1).
    package func reconnectDelay(attempt: Int, random: Double) -> TimeAmount {
        let ceiling = self.reconnectMax.nanoseconds
        let doubled = self.reconnectBase.nanoseconds.multipliedReportingOverflow(by: Int64(1) << min(attempt, 40))
        let delay = doubled.overflow ? ceiling : min(ceiling, doubled.partialValue)
        return .nanoseconds(Int64(Double(delay) * random))
    }
}
