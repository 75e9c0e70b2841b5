import NIOCore

/// The running totals one status report is measured against the next: rates are the difference over the interval.
struct StatusTotals: Sendable {
    var at: NIODeadline
    var deliveries = 0
    var framesEncoded = 0
    /// Messages published by HTTP, clients and the cluster (the status report's own left out).
    var published = 0
    var cpuSeconds = 0.0
}
