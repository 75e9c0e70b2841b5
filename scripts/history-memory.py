#!/usr/bin/env python3
"""What history costs in resident memory: starts BINARY with --history-size 100, publishes 100 messages of 1 KiB
to each of 1,000 channels over keep-alive HTTP on loopback, and compares the server's resident memory growth with
the payload bytes held (issue 19's target: at most 1.15x).

    scripts/history-memory.py .build/release/chorus [CHANNELS] [MESSAGES] [SIZE] [ROUNDS]

ROUNDS (default MESSAGES) messages are published per channel; more than MESSAGES measures history in its steady
state, each channel's oldest messages giving way to new ones.
"""
import http.client, os, re, socket, subprocess, sys, time

binary = sys.argv[1]
channels = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
messages = int(sys.argv[3]) if len(sys.argv) > 3 else 100
size = int(sys.argv[4]) if len(sys.argv) > 4 else 1024
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else messages

probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
server = subprocess.Popen(
    [binary, "--port", str(port), "--event-loops", "1", "--history-size", str(messages),
     "--history-max-bytes", str(4 * channels * messages * size), "--log-level", "warning"])
try:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)

    def resident():
        with open(f"/proc/{server.pid}/status") as status:
            return int(re.search(r"VmRSS:\s+(\d+) kB", status.read()).group(1)) * 1024

    def metric(name):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/metrics")
        body = connection.getresponse().read().decode()
        return float(re.search(rf"^{name} (\S+)$", body, re.M).group(1))

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    # Warm the HTTP path and the allocator before the baseline.
    for index in range(200):
        connection.request("POST", "/publish/warm", body=b"w" * size, headers={"Content-Type": "text/plain"})
        connection.getresponse().read()
    before = resident()
    started = time.monotonic()
    for round in range(rounds):
        for channel in range(channels):
            body = (b"%08d:%08d:" % (channel, round)).ljust(size, b"x")
            connection.request("POST", f"/publish/c{channel}", body=body, headers={"Content-Type": "text/plain"})
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
    elapsed = time.monotonic() - started
    time.sleep(0.5)
    after = resident()
    payload = channels * messages * size
    held = metric("chorus_history_messages")
    history_bytes = metric("chorus_history_bytes")
    print(f"published {channels * rounds} messages of {size} B to {channels} channels in {elapsed:.1f} s")
    print(f"history holds {held:.0f} messages; chorus_history_bytes {history_bytes:.0f}")
    print(f"resident {before} -> {after} bytes: +{after - before} for {payload} payload bytes "
          f"= {(after - before) / payload:.3f}x")
    assert held == channels * messages + min(200, messages), held
finally:
    server.terminate()
    server.wait(timeout=10)
