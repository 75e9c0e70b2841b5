#!/usr/bin/env python3
"""Cross-node delivery latency and throughput of Chorus's cluster mode.

Holds SUBSCRIBERS WebSocket subscribers of one channel on each of two running Chorus nodes (same Redis),
publishes MESSAGES over HTTP to the first node at RATE per second, and reports, separately for the
subscribers on the publishing node and on the other node, the latency from just before the POST to each
frame's arrival (p50/p99/max), then a burst of BURST messages sent back to back for throughput (frames
received per second over both nodes). Loopback only; the clients are raw asyncio protocols (no WebSocket
library), so one Python process can hold 10,000 of them. The client is part of what is measured: on a
small machine it, not Chorus, is the first bottleneck.

  scripts/cluster-latency.py --ports 8080 8081 [--subscribers 5000] [--messages 200] [--rate 50] [--burst 200]
"""
import argparse
import asyncio
import base64
import os
import statistics
import sys
import time


class Subscriber(asyncio.Protocol):
    def __init__(self, path, node, results, ready):
        self.path, self.node, self.results, self.ready = path, node, results, ready
        self.buffer = bytearray()
        self.upgraded = False

    def connection_made(self, transport):
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data):
        now = time.monotonic_ns()
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                raise SystemExit(f"upgrade refused: {bytes(buffer[:80])!r}")
            del buffer[: end + 4]
            self.upgraded = True
            self.ready()
        while len(buffer) >= 2:
            length, offset = buffer[1] & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, offset = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, offset = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < offset + length:
                return
            opcode = buffer[0] & 0x0F
            payload = bytes(buffer[offset : offset + length])
            del buffer[: offset + length]
            if opcode == 0x1:
                sent = int(payload.split(b" ")[1])
                self.results[self.node].append(now - sent)
            elif opcode == 0x9:  # answer server pings, masked as a client must
                mask = os.urandom(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)


async def publish(port, payloads):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for make in payloads:
        body = make().encode()
        writer.write(
            f"POST /publish/bench HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")).split(b":")[1])
        answer = await reader.readexactly(length)
        if b'"clustered":true' not in answer:
            raise SystemExit(f"publish not clustered: {answer!r}")
        yield
    writer.close()


def summary(samples):
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6
    return f"n={len(ordered)} p50={pick(0.50):.2f} ms p99={pick(0.99):.2f} ms max={ordered[-1] / 1e6:.2f} ms"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", type=int, nargs=2, required=True, metavar=("PUBLISHING", "OTHER"))
    parser.add_argument("--subscribers", type=int, default=5000, help="per node")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--burst", type=int, default=200)
    args = parser.parse_args()

    loop = asyncio.get_running_loop()
    results = {"publishing node": [], "other node": []}
    ready = 0
    all_ready = loop.create_future()

    def on_ready():
        nonlocal ready
        ready += 1
        if ready == 2 * args.subscribers and not all_ready.done():
            all_ready.set_result(None)

    started = time.monotonic()
    for port, node in zip(args.ports, results):
        for _ in range(args.subscribers):
            await loop.create_connection(lambda: Subscriber("/ws/bench", node, results, on_ready), "127.0.0.1", port)
    await asyncio.wait_for(all_ready, 120)
    print(f"{2 * args.subscribers} subscribers connected in {time.monotonic() - started:.1f} s", flush=True)
    # Warm-up publishes until both nodes deliver one (their SUBSCRIBEs have reached Redis), then a pause so
    # that nothing from the warm-up is counted below.
    for _attempt in range(20):
        async for _ in publish(args.ports[0], [lambda: f"warmup {time.monotonic_ns()}"]):
            pass
        deadline = time.monotonic() + 10
        while any(len(r) < args.subscribers for r in results.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if all(len(r) >= args.subscribers for r in results.values()):
            break
    else:
        raise SystemExit("the nodes never both delivered the warm-up message")
    await asyncio.sleep(1)
    for r in results.values():
        r.clear()

    interval = 1.0 / args.rate
    next_at = time.monotonic()
    async for _ in publish(args.ports[0], [lambda: f"m {time.monotonic_ns()}"] * args.messages):
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    expected = args.messages * args.subscribers
    deadline = time.monotonic() + 60
    while any(len(r) < expected for r in results.values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    print(f"latency at {args.rate:g} msg/s, {args.messages} messages, {args.subscribers} subscribers per node:")
    for node, samples in results.items():
        print(f"  {node}: {summary(samples)}" + ("" if len(samples) == expected else f" (expected {expected})"))

    for r in results.values():
        r.clear()
    start = time.monotonic()
    async for _ in publish(args.ports[0], [lambda: f"b {time.monotonic_ns()}"] * args.burst):
        pass
    expected = args.burst * args.subscribers
    deadline = time.monotonic() + 120
    while any(len(r) < expected for r in results.values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    elapsed = time.monotonic() - start
    received = sum(len(r) for r in results.values())
    print(
        f"burst of {args.burst}: {received} deliveries in {elapsed:.2f} s = {received / elapsed:,.0f} deliveries/s, "
        f"{args.burst / elapsed:,.0f} messages/s; cross-node {summary(results['other node'])}"
    )
    return 0 if received == 2 * expected else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
