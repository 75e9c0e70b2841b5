#!/usr/bin/env python3
"""The ping flood of the hostile-input campaign, against a separate Chorus process, measured from outside.

Starts BINARY twice on free loopback ports (one event loop each), each time with a canary subscriber that must
receive every one of 20 publishes per second throughout, and a raw client (SO_RCVBUF 4096) that upgrades and
sends masked 125-byte pings as fast as it can without ever reading:

  limited    the default --max-control-frames-per-second: the flooder must be closed (counted as
             control_frame_flood) within a few seconds, resident memory must not grow by more than LIMIT_MB;
  unlimited  --max-control-frames-per-second 0, PINGS pings: chorus_outbound_pending_bytes must stay within
             --max-pending-bytes plus 16 KiB and resident memory within LIMIT_MB of the start; pongs that
             waited are counted in chorus_pongs_replaced_total.

Loopback only, bounded in count and time; exits non-zero when a bound does not hold. Prints the figures.
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

UPGRADE = (
    "GET /ws/x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
# A masked ping with a 125-byte payload (mask 0: the payload stays readable, the frame is still masked).
PING = bytes([0x89, 0x80 | 125, 0, 0, 0, 0]) + b"p" * 125
MAX_PENDING = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


def upgrade(port: int, path: str = "/ws/x", rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    sock.sendall(UPGRADE.replace("/ws/x", path).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


class Canary(threading.Thread):
    """Subscribes to /ws/canary and counts the text messages it reads (frames are tiny and unfragmented)."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.sock = upgrade(port, "/ws/canary")
        self.received = 0

    def run(self):
        buffer = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while len(buffer) >= 2 and len(buffer) >= 2 + (buffer[1] & 0x7F):
                length = buffer[1] & 0x7F
                if buffer[0] & 0x0F == 0x1:
                    self.received += 1
                buffer = buffer[2 + length:]


def run(binary: str, mode: str, pings: int, seconds: float, limit_mb: float) -> bool:
    port = free_port()
    args = [binary, "--port", str(port), "--event-loops", "1", "--log-level", "error", "--close-timeout", "1s"]
    if mode == "unlimited":
        args += ["--max-control-frames-per-second", "0"]
    server = subprocess.Popen(args)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        canary = Canary(port)
        canary.start()
        publisher = socket.create_connection(("127.0.0.1", port))
        published = 0

        def publish():
            nonlocal published
            body = b"tick"
            publisher.sendall(
                b"POST /publish/canary HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            )
            response = b""
            while b"}" not in response:
                response += publisher.recv(4096)
            assert b" 200 " in response, response
            published += 1

        base_rss = rss_kb(server.pid)
        flooder = upgrade(port, rcvbuf=4096)
        flooder.settimeout(0.05)
        batch = PING * 500
        sent_bytes = 0  # of the whole flood; a send may take part of a batch, the rest goes next
        largest_rss = largest_pending = 0
        start = time.monotonic()
        next_tick = start
        closed_by_server = False
        # The limited run floods until the server hangs up (or time runs out); the unlimited one sends PINGS.
        while (mode == "limited" or sent_bytes < pings * len(PING)) and time.monotonic() - start < seconds:
            offset = sent_bytes % len(batch)
            try:
                sent_bytes += flooder.send(memoryview(batch)[offset:])
            except socket.timeout:
                pass
            except OSError:
                closed_by_server = True
                break
            if time.monotonic() >= next_tick:
                next_tick += 0.05
                publish()
                largest_rss = max(largest_rss, rss_kb(server.pid))
                if published % 10 == 0:
                    largest_pending = max(largest_pending, scrape(port)["chorus_outbound_pending_bytes"])
        elapsed = time.monotonic() - start
        sent = sent_bytes // len(PING)
        largest_rss = max(largest_rss, rss_kb(server.pid))
        metrics = scrape(port)
        largest_pending = max(largest_pending, metrics["chorus_outbound_pending_bytes"])
        deadline = time.monotonic() + 5
        while canary.received < published and time.monotonic() < deadline:
            time.sleep(0.01)
        flood_closes = metrics.get('chorus_connections_closed_total{reason="control_frame_flood"}', 0)
        growth_mb = (largest_rss - base_rss) / 1024
        print(
            f"{mode}: {sent:,} pings in {elapsed:.1f} s, closed by the server: {closed_by_server}, "
            f"control_frame_flood closes {flood_closes:.0f}, pongs replaced "
            f"{metrics.get('chorus_pongs_replaced_total', 0):,.0f}, largest pending {largest_pending:,.0f} B, "
            f"resident {base_rss / 1024:.1f} -> at most {largest_rss / 1024:.1f} MB (+{growth_mb:.1f}), "
            f"canary {canary.received}/{published}"
        )
        ok = canary.received == published and growth_mb <= limit_mb
        if mode == "limited":
            ok = ok and closed_by_server and flood_closes == 1
        else:
            ok = ok and largest_pending <= MAX_PENDING + 16 * 1024 and sent >= pings
        return ok
    finally:
        server.terminate()
        server.wait(timeout=15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("--pings", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--limit-mb", type=float, default=24, help="largest allowed resident-memory growth")
    options = parser.parse_args()
    results = [run(options.binary, mode, options.pings, options.seconds, options.limit_mb) for mode in ("limited", "unlimited")]
    if not all(results):
        print("FAIL: a bound did not hold", file=sys.stderr)
        return 1
    print("ping flood: every bound held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
