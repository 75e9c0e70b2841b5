import Prometheus

/// Memory-aware admission and upgrade probes, always exported (zeros and `chorus_admission_open 1` without a
/// memory limit). Refusals for memory and rate are in `chorus_handshakes_rejected_total{reason="memory"|"rate"}`.
struct AdmissionMetrics: Sendable {
    let memoryLimit: Gauge
    let memoryUsed: Gauge
    let open: Gauge
    /// Indexed by `HandshakeRejectionReason.rawValue`, then one for probes answered 426.
    let probes: [Counter]

    init(registry r: PrometheusCollectorRegistry) {
        self.memoryLimit = r.makeGauge(
            descriptor: .named(
                "chorus_memory_limit_bytes",
                help: "The memory limit admission compares use against (--memory-limit, else the cgroup's "
                    + "memory.max); 0 when none is known and memory-aware admission is off."
            )
        )
        self.memoryUsed = r.makeGauge(
            descriptor: .named(
                "chorus_memory_used_bytes",
                help: "The memory use compared against the limit at the latest sample (the cgroup's memory.current, "
                    + "or resident memory with --memory-limit); 0 without a limit."
            )
        )
        self.open = r.makeGauge(
            descriptor: .named(
                "chorus_admission_open",
                help: "1 while memory use lets new WebSocket upgrades in; 0 from the high watermark until use is "
                    + "back under the low one (upgrades get 503, /readyz 503)."
            )
        )
        let reasons = HandshakeRejectionReason.allCases.map(\.label) + ["none"]
        self.probes = reasons.map { reason in
            r.makeCounter(
                descriptor: .named(
                    "chorus_upgrade_probes_total",
                    help: "Plain GETs of WebSocket paths (clients asking why an upgrade failed), by the refusal an "
                        + "upgrade would have had (none: answered 426); not counted as handshake rejections."
                ),
                labels: [("reason", reason)]
            )
        }
    }

    func update(from state: ServerState) {
        let reading = state.memory?.reading
        self.memoryLimit.set(Int64(state.memory?.limit.bytes ?? 0))
        self.memoryUsed.set(Int64(reading?.usedBytes ?? 0))
        self.open.set(Int64(reading?.admits == false ? 0 : 1))
        for reason in HandshakeRejectionReason.allCases {
            self.probes[reason.rawValue].set(total: state.probes(reason))
        }
        self.probes[HandshakeRejectionReason.allCases.count].set(total: state.probes(nil))
    }
}
