import ChorusCore
import NIOConcurrencyHelpers
import NIOCore

/// Publishes the status report (`StatusReport`) on `ChannelName.status` once a second while the status page's live
/// feed has a viewer: one ordinary publish into the hub, so one encoding for every viewer. Nothing is gathered while
/// nobody watches (a timer finds no viewer and returns).
final class StatusPublisher: Sendable {
    private let hub: Hub
    private let state: ServerState
    private let metrics: MetricsExporter
    private let loop: any EventLoop
    /// The totals of the previous report (at first: the start).
    private let previous: NIOLockedValueBox<StatusTotals>

    init(hub: Hub, state: ServerState, metrics: MetricsExporter, loop: any EventLoop) {
        self.hub = hub
        self.state = state
        self.metrics = metrics
        self.loop = loop
        self.previous = NIOLockedValueBox(StatusTotals(at: .now()))
    }

    /// Reports once a second from now on, until the task is cancelled.
    func start() -> RepeatedTask {
        self.loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in self.report() }
    }

    /// Gathers every shard's sample (one hop per loop) and publishes the report, when somebody watches.
    func report() {
        guard self.state.statusViewers.count > 0 else { return }
        let hub = self.hub
        let loop = self.loop
        hub.collect(on: loop) { $0.statusSample(busiest: StatusReport.busiestCount) }.whenSuccess { samples in
            let report = self.previous.withLockedValue { previous in
                let report = StatusReport(
                    samples: samples,
                    hub: hub.hubCounters,
                    process: ProcessMetrics.sample(),
                    baselineResidentBytes: self.metrics.baselineResidentBytes,
                    clusterConnected: hub.clusterBus.map(\.isConnected),
                    previous: previous,
                    now: .now()
                )
                previous = report.totals
                return report
            }
            _ = hub.publish(
                ByteBuffer(string: report.json),
                opcode: .text,
                to: .status,
                source: .system,
                on: loop,
                options: PublishOptions(isJSON: true)
            )
        }
    }
}
