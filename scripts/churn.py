#!/usr/bin/env python3
"""Connect/subscribe/disconnect churn against a running Chorus, checked through its own /metrics.

Runs CYCLES WebSocket connections in batches of BATCH concurrent ones (to stay inside the 20,000-descriptor
limit): each upgrades to /ws/churn-N, sends a masked close, reads the server's close and disconnects. Afterwards
metadata blocks in use and open descriptors must be back at their starting values, and resident memory within
TOLERANCE of its value after the first batch (no growth from reuse: blocks and buffers are recycled).
Loopback only; bounded in count and time.
"""
import argparse
import asyncio
import os
import re
import sys
import time
import urllib.request

REQUEST = (
    "GET /ws/churn-{n} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
# A masked close frame with code 1000 (mask 0x00000000 keeps the payload readable; still a masked frame).
CLOSE = bytes([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8])


def scrape(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        values[name] = float(value)
    return values


async def cycle(port: int, n: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(REQUEST.format(n=n % 50).encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"upgrade refused: {head[:40]!r}")
    writer.write(CLOSE)
    frame = await reader.readexactly(2)
    if frame[0] != 0x88:
        raise RuntimeError(f"expected a close frame, got {frame!r}")
    await reader.readexactly(frame[1] & 0x7F)
    await reader.read()  # until the server closes
    writer.close()
    await writer.wait_closed()


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cycles", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--tolerance", type=float, default=0.10)
    args = parser.parse_args()

    start = scrape(args.port)
    started = time.monotonic()
    after_first = None
    done = 0
    while done < args.cycles:
        count = min(args.batch, args.cycles - done)
        await asyncio.wait_for(
            asyncio.gather(*(cycle(args.port, done + i) for i in range(count))), timeout=120
        )
        done += count
        if after_first is None:
            after_first = scrape(args.port)
    end = scrape(args.port)
    elapsed = time.monotonic() - started

    blocks = 'chorus_metadata_blocks{state="in_use"}'
    ok = True

    def check(condition: bool, message: str) -> None:
        nonlocal ok
        print(("PASS " if condition else "FAIL ") + message)
        ok = ok and condition

    rss_first = after_first["process_resident_memory_bytes"]
    rss_end = end["process_resident_memory_bytes"]
    print(f"churn: {args.cycles} cycles in {elapsed:.1f} s ({args.cycles / elapsed:.0f}/s)")
    check(end[blocks] == start[blocks], f"metadata blocks in use back to {start[blocks]:.0f} (now {end[blocks]:.0f})")
    check(end["process_open_fds"] <= start["process_open_fds"],
          f"open descriptors back to {start['process_open_fds']:.0f} (now {end['process_open_fds']:.0f})")
    check(rss_end <= rss_first * (1 + args.tolerance),
          f"resident memory {rss_end / 2**20:.1f} MiB within {args.tolerance:.0%} of "
          f"{rss_first / 2**20:.1f} MiB after the first batch")
    accepted = end["chorus_connections_accepted_total"] - start["chorus_connections_accepted_total"]
    check(accepted == args.cycles, f"{accepted:.0f} connections accepted")
    reused = end["chorus_metadata_blocks_reused_total"] - start["chorus_metadata_blocks_reused_total"]
    check(reused >= args.cycles - args.batch, f"{reused:.0f} metadata blocks reused")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
