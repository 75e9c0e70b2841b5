#!/usr/bin/env python3
"""A reconnect storm against --max-upgrades-per-second (issue 22's target): CLIENTS clients reconnect at once (a
deploy's worth) to BINARY started with --max-upgrades-per-second RATE. Each does a real, complete WebSocket upgrade
over a raw socket (the GET with the Upgrade headers; a 101 with the right Sec-WebSocket-Accept, then the socket is
kept open). A 503 must carry Retry-After: the client waits that many seconds plus a little jitter (uniform 0 to
JITTER s, the first backoff step of chorus.js) and tries again. Any other answer, or a connection error, is a failure.

Meanwhile a canary chorus.v1 subscriber, connected before the storm, follows a channel a publisher posts to over HTTP
at PUBLISH_RATE messages a second: at the end it must have every offset 1..N exactly once, in order.

Checks: every client connected within BOUND_S seconds of the storm's start, no failure, every 503 had Retry-After
(1..5 s, the server's range), the server's chorus_handshakes_rejected_total{reason="rate"} equals the 503s the
clients counted, chorus_connections shows them all open at once, and the canary is complete. Prints one summary line.

The clients run in PROCESSES processes (each under the 20,000-descriptor limit), spread over the source addresses
127.0.0.2 to 127.0.0.9. Loopback only, bounded: the clients give up STORM_TIMEOUT_S after the start, the whole
script ends within about a minute and kills the server.

    (ulimit -n 20000 && python3 scripts/reconnect-storm.py .build/release/chorus [CLIENTS] [RATE])
"""
import asyncio
import base64
import hashlib
import http.client
import json
import multiprocessing
import os
import random
import re
import resource
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

import websockets.sync.client

binary = sys.argv[1]
clients = int(sys.argv[2]) if len(sys.argv) > 2 else 18000
rate = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
BOUND_S = float(os.environ.get("STORM_BOUND_S", "7"))
STORM_TIMEOUT_S = 30.0
PROCESSES = max(2, -(-clients // 4500))
SOURCES = [f"127.0.0.{n}" for n in range(2, 10)]
JITTER_S = 0.5
PUBLISH_RATE = 50
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def metrics(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/metrics")
    body = connection.getresponse().read().decode()
    connection.close()
    return {match[0]: float(match[1]) for match in re.findall(r"^(\S+) (\S+)$", body, re.M)}


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Upgrade(asyncio.Protocol):
    """One upgrade attempt: sends the GET, resolves `answer` with the response head; the transport stays open."""

    def __init__(self, request, answer):
        self.request = request
        self.answer = answer
        self.head = b""
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data):
        if self.answer.done():
            return  # nothing is published to the storm's channel; ignore whatever comes after the head
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end >= 0:
            self.answer.set_result(self.head[:end].decode("latin-1"))
        elif len(self.head) > 16384:
            self.answer.set_result("overlong head")

    def connection_lost(self, exc):
        if not self.answer.done():
            self.answer.set_result(f"closed before the head ({exc})")


async def storm_client(loop, port, index, start, deadline, result):
    source = SOURCES[index % len(SOURCES)]
    while True:
        if time.monotonic() > deadline:
            result["failures"]["gave up at the deadline"] += 1
            return
        key = base64.b64encode(os.urandom(16))
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        request = (b"GET /ws/storm HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        answer = loop.create_future()
        sock = socket.socket()
        try:
            # Without IP_BIND_ADDRESS_NO_PORT every bind to port 0 searches the bound ports: thousands of them
            # made the storm's own connects take seconds. With it the port is picked at connect time.
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", port))
            transport, _ = await loop.create_connection(lambda: Upgrade(request, answer), sock=sock)
        except OSError as error:
            sock.close()
            result["failures"][f"connect: {error.strerror or error}"] += 1
            return
        result["tcp_at"].append(time.monotonic() - start)
        try:
            head = await asyncio.wait_for(answer, max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            transport.close()
            result["failures"]["no answer by the deadline"] += 1
            return
        lines = head.split("\r\n")
        status = lines[0].split(" ")[1] if lines[0].startswith("HTTP/1.1 ") else lines[0]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status == "101":
            if headers.get("sec-websocket-accept") != accept:
                transport.close()
                result["failures"]["101 with a wrong Sec-WebSocket-Accept"] += 1
                return
            result["open"].append(transport)  # kept open until the main process has counted the connections
            result["connected_at"].append(time.monotonic() - start)
            return
        transport.close()
        retry_after = headers.get("retry-after", "")
        if status != "503" or not retry_after.isdigit():
            result["failures"][f"{status} (Retry-After: {retry_after or 'none'})"] += 1
            return
        result["refused"] += 1
        result["retry_after"][int(retry_after)] += 1
        await asyncio.sleep(int(retry_after) + random.uniform(0, JITTER_S))


def storm_worker(port, indexes, ready, go, start_value, finished, release, results):
    raise_fd_limit()

    async def run():
        loop = asyncio.get_running_loop()
        result = {"open": [], "connected_at": [], "tcp_at": [], "refused": 0, "retry_after": Counter(), "failures": Counter()}
        ready.put(len(indexes))
        await loop.run_in_executor(None, go.wait)
        start = start_value.value
        deadline = start + STORM_TIMEOUT_S
        await asyncio.gather(*(storm_client(loop, port, i, start, deadline, result) for i in indexes))
        results.put({key: value for key, value in result.items() if key != "open"})
        finished.put(True)
        await loop.run_in_executor(None, release.wait, 20)
        for transport in result["open"]:
            transport.abort()

    asyncio.run(run())


class Canary:
    """A chorus.v1 subscriber of `canary`, and a publisher posting to it PUBLISH_RATE times a second."""

    def __init__(self, port):
        self.port = port
        self.offsets = []
        self.published = 0
        self.publish_errors = []
        self.stop = threading.Event()
        self.socket = websockets.sync.client.connect(
            f"ws://127.0.0.1:{port}/ws/canary?protocol=chorus.v1", max_size=None).__enter__()
        answer = json.loads(self.socket.recv(timeout=10))
        assert answer.get("subscribed") == "canary" and answer["offset"] == 0, answer
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.writer = threading.Thread(target=self.publish, daemon=True)
        self.reader.start()
        self.writer.start()

    def read(self):
        try:
            for message in self.socket:
                delivery = json.loads(message)
                self.offsets.append(delivery["offset"])
        except websockets.exceptions.ConnectionClosed:
            pass

    def publish(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        began = time.monotonic()
        while not self.stop.is_set():
            try:
                connection.request("POST", "/publish/canary", body=json.dumps({"n": self.published + 1}),
                                   headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    self.published += 1
                else:
                    self.publish_errors.append(response.status)
            except OSError as error:
                self.publish_errors.append(str(error))
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self.stop.wait(max(0.0, began + (self.published + len(self.publish_errors)) / PUBLISH_RATE
                               - time.monotonic()))

    def finish(self):
        self.stop.set()
        self.writer.join(15)
        # Wait (bounded) for the last published offset to arrive.
        deadline = time.monotonic() + 5
        while (not self.offsets or self.offsets[-1] < self.published) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.socket.close()
        self.reader.join(5)


def main():
    limit = raise_fd_limit()
    per_process = -(-clients // PROCESSES)
    if limit < clients + 100 or limit < per_process + 200:
        sys.exit(f"FAIL: descriptor limit {limit}: run as (ulimit -n 20000 && python3 {sys.argv[0]} ...)")
    port = free_port()
    server = subprocess.Popen([binary, "--port", str(port), "--max-upgrades-per-second", str(rate),
                               "--log-level", "error"])
    context = multiprocessing.get_context("fork")
    workers = []
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        # The workers are forked before any thread starts; they wait for `go`.
        ready, finished, results = context.Queue(), context.Queue(), context.Queue()
        go, release = context.Event(), context.Event()
        start_value = context.Value("d", 0.0)
        for n in range(PROCESSES):
            indexes = list(range(n, clients, PROCESSES))
            worker = context.Process(target=storm_worker, daemon=True,
                                     args=(port, indexes, ready, go, start_value, finished, release, results))
            worker.start()
            workers.append(worker)
        for _ in workers:
            ready.get(timeout=20)
        canary = Canary(port)
        time.sleep(0.5)  # some canary traffic before the storm (a timed warm-up, not a wait for an event)
        start_value.value = time.monotonic()
        go.set()
        reports = []
        for _ in workers:
            finished.get(timeout=STORM_TIMEOUT_S + 10)
            reports.append(results.get(timeout=5))
        elapsed = time.monotonic() - start_value.value
        during = metrics(port)
        release.set()
        canary.finish()
        after = metrics(port)
    finally:
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()

    connected_at = sorted(t for report in reports for t in report["connected_at"])
    refused = sum(report["refused"] for report in reports)
    retry_after = sum((report["retry_after"] for report in reports), Counter())
    failures = sum((report["failures"] for report in reports), Counter())
    rejected_rate = after.get('chorus_handshakes_rejected_total{reason="rate"}', 0)
    rejected_other = sum(value for name, value in after.items()
                         if name.startswith("chorus_handshakes_rejected_total") and 'reason="rate"' not in name)
    open_during = during.get("chorus_connections", -1)
    expected = list(range(1, canary.published + 1))
    last = connected_at[-1] if connected_at else float("nan")

    def at(fraction):
        return connected_at[min(len(connected_at) - 1, int(fraction * len(connected_at)))] if connected_at else 0

    first_wave = sum(1 for t in connected_at if t < 1.0)
    spread = " ".join(f"{seconds}s:{count}" for seconds, count in sorted(retry_after.items()))
    print(f"reconnect storm: {len(connected_at)}/{clients} connected at {rate}/s in {last:.2f} s "
          f"(first second {first_wave}, p50 {at(0.5):.2f} s, p90 {at(0.9):.2f} s); {refused} 503s "
          f"(Retry-After {spread}); rate rejections {rejected_rate:.0f}, other rejections {rejected_other:.0f}; "
          f"open at once {open_during:.0f}; failures {dict(failures) or 0}; canary {len(canary.offsets)}/"
          f"{canary.published} in order={canary.offsets == expected} (publish errors {len(canary.publish_errors)})"
          f"; bound {BOUND_S:.0f} s, script {elapsed:.1f} s of storm")
    problems = []
    if len(connected_at) != clients:
        problems.append(f"{clients - len(connected_at)} clients not connected")
    if last > BOUND_S:
        problems.append(f"the last client connected after {last:.2f} s, over the {BOUND_S} s bound")
    if failures:
        problems.append(f"failures other than 503 with Retry-After: {dict(failures)}")
    if any(not 1 <= seconds <= 5 for seconds in retry_after):
        problems.append(f"Retry-After outside 1..5 s: {spread}")
    if rejected_rate != refused:
        problems.append(f"server counted {rejected_rate:.0f} rate rejections, clients {refused} 503s")
    if rejected_other:
        problems.append(f"{rejected_other:.0f} rejections for other reasons")
    if open_during < clients + 1:
        problems.append(f"chorus_connections {open_during:.0f} with every client connected, want {clients + 1}")
    if canary.published < PUBLISH_RATE or canary.offsets != expected or canary.publish_errors:
        problems.append(f"canary: published {canary.published}, errors {canary.publish_errors[:3]}, "
                        f"received {len(canary.offsets)}, in order {canary.offsets == expected}")
    if os.environ.get("STORM_VERBOSE"):
        print("connected per second:", sorted(Counter(int(t) for t in connected_at).items()))
        tcp = [t for report in reports for t in report["tcp_at"]]
        print("TCP connects per second:", sorted(Counter(int(t) for t in tcp).items()))
    if problems:
        print("FAIL: " + "; ".join(problems))
        sys.exit(1)


if __name__ == "__main__":
    main()
