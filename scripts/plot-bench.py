#!/usr/bin/env python3
"""Draws Benchmarks/Results/*.svg from the chorus-bench JSON results committed in Benchmarks/Results/.

    python3 -m venv .venv-plot && .venv-plot/bin/pip install matplotlib
    .venv-plot/bin/python scripts/plot-bench.py

Each result carries a "label" (the allocator under test: glibc, glibc-arena2, jemalloc; "-epoll" for runs on the
epoll transport); plots group by it.
"""
import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent.parent / "Benchmarks" / "Results"
MEMORY_TARGET = 2600  # bytes per idle connection, NIO transport (issue #6)
EPOLL_MEMORY_TARGET = 150  # bytes per idle connection, epoll transport (issue #10)
USER_TARGET, EPOLL_USER_TARGET, TOTAL_TARGET = 1.0, 0.2, 8.5  # µs of server CPU per delivery (NIO, epoll, both)


def load():
    results = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    idle = [r for r in results if r["scenario"] == "idle"]
    broadcast = [r for r in results if r["scenario"] == "broadcast"]
    return idle, broadcast


def memory_plot(idle):
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for label in sorted({r["label"] for r in idle}):
        rows = sorted((r for r in idle if r["label"] == label), key=lambda r: r["connected"])
        ax.plot([r["connected"] for r in rows], [r["memory_per_connection_bytes"] for r in rows], "o-", label=label)
        anonymous = [r for r in rows if "memory_per_connection_anon_bytes" in r]
        if anonymous:
            # chorus-bench --server-pid: RssAnon only (the first upgrades page in ~1 MB of code, file-backed).
            ax.plot(
                [r["connected"] for r in anonymous],
                [r["memory_per_connection_anon_bytes"] for r in anonymous],
                "s--",
                label=f"{label}, anonymous RSS",
            )
    ax.axhline(MEMORY_TARGET, color="red", linestyle="--", label=f"NIO target ≤ {MEMORY_TARGET} B")
    ax.axhline(EPOLL_MEMORY_TARGET, color="purple", linestyle=":", label=f"epoll target ≤ {EPOLL_MEMORY_TARGET} B")
    ax.set_yscale("log")
    ax.set_xlabel("idle connections (each subscribed, one message received)")
    ax.set_ylabel("server RSS per connection (bytes)")
    ax.set_title("Chorus: resident memory per idle WebSocket connection")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the plot, off the lines
    fig.tight_layout()
    fig.savefig(RESULTS / "memory-per-connection.svg")


def broadcast_plots(broadcast):
    rows = sorted(broadcast, key=lambda r: (r["label"], r["subscribers"], r["rate"]))
    names = [f'{r["subscribers"]:,}\n× {r["rate"]:g}/s\n{r["label"].replace("-", chr(10))}' for r in rows]
    # Wide enough that each scenario's label stays readable however many transports and allocators ran.
    fig, (lat, cpu) = plt.subplots(1, 2, figsize=(max(12, 1.6 * len(rows)), 5.5))
    width = 0.18
    for offset, key in enumerate(["p50", "p90", "p99", "p99_9", "max"]):
        xs = [i + (offset - 2) * width for i in range(len(rows))]
        lat.bar(xs, [r["latency_us"][key] / 1000 for r in rows], width, label=key.replace("_", "."))
    lat.set_xticks(range(len(rows)), names, fontsize=8)
    lat.set_yscale("log")
    lat.set_ylabel("publish → receive latency (ms)")
    lat.set_title("Latency percentiles (64 B messages)")
    lat.legend(fontsize=8)
    lat.grid(axis="y", alpha=0.3)

    user = [r["server"].get("cpu_user_us_per_delivery", 0) for r in rows]
    system = [r["server"].get("cpu_system_us_per_delivery", 0) for r in rows]
    cpu.bar(range(len(rows)), user, label="user")
    cpu.bar(range(len(rows)), system, bottom=user, label="system (kernel)")
    cpu.axhline(TOTAL_TARGET, color="red", linestyle="--", label=f"target total ≤ {TOTAL_TARGET} µs")
    cpu.axhline(USER_TARGET, color="orange", linestyle=":", label=f"target user ≤ {USER_TARGET} µs (NIO)")
    cpu.axhline(EPOLL_USER_TARGET, color="purple", linestyle=":", label=f"target user ≤ {EPOLL_USER_TARGET} µs (epoll)")
    cpu.set_xticks(range(len(rows)), names, fontsize=8)
    cpu.set_ylabel("server CPU per delivery (µs)")
    cpu.set_title("Server CPU per delivery")
    cpu.legend(fontsize=8)
    cpu.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / "broadcast.svg")


def main():
    idle, broadcast = load()
    if not idle and not broadcast:
        sys.exit(f"no results in {RESULTS}")
    plt.rcParams["svg.hashsalt"] = "chorus"  # stable ids: regenerating unchanged data gives unchanged files
    plt.rcParams["svg.fonttype"] = "none"
    if idle:
        memory_plot(idle)
    if broadcast:
        broadcast_plots(broadcast)
    print(f"wrote plots to {RESULTS}")


if __name__ == "__main__":
    main()
