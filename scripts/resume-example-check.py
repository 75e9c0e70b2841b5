#!/usr/bin/env python3
"""Checks examples/resume.py against a real Chorus: every message exactly once, in order, across dropped
connections, and the application told when recovery is impossible.

    python3 scripts/resume-example-check.py path/to/chorus      (needs PyPI's websockets, 13 or later)

Starts BINARY on a free loopback port with --history-size 100 and drives the example's Resumer on channel
"news" while publishing over HTTP:
  1. 20 messages live;
  2. the client's TCP connection aborted, 15 published while it is away (the loop is held so that it cannot
     reconnect first), then it recovers them;
  3. 25 more at ~1 kHz with the connection aborted in the middle, the last one binary;
  4. the server restarted on the same port: a new epoch, so the client's recovery answers recovered:false and
     the example calls on_reset; one more message then arrives at offset 1 of the new epoch.
Asserts offsets 1..60 exactly once and in order with their payloads, no reset before step 4, and the server's
recovery counters. Loopback only; bounded (about 10 s, 40 s at most).
"""
import asyncio
import importlib.util
import json
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHANNEL = "news"


def readme_matches_example():
    """The README quotes the example's core: it must be the example's own code."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### A client that resumes", 1)[1]
    quoted = section.split("```python\n", 1)[1].split("```", 1)[0]
    source = (ROOT / "examples" / "resume.py").read_text()
    for block in quoted.split("\n\n"):
        if "".join("    " + line if line else line for line in block.splitlines(True)) not in source:
            raise SystemExit(f"FAIL: README.md quotes code that examples/resume.py does not have:\n{block}")


def load_example():
    sys.dont_write_bytecode = True  # no __pycache__ left in examples/
    spec = importlib.util.spec_from_file_location("resume", ROOT / "examples" / "resume.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, port, log):
        self.binary, self.port, self.log = binary, port, log
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--host", "127.0.0.1", "--port", str(self.port), "--history-size", "100",
             "--drain-timeout", "1s", "--log-level", "warning"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"FAIL: chorus exited with {self.process.returncode} at start")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("FAIL: chorus not ready within 20 s")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def publish(self, body: bytes, content_type="text/plain") -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/publish/{CHANNEL}", data=body, method="POST",
            headers={"Content-Type": content_type},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    def metric(self, sample: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                name, _, value = line.rpartition(" ")
                if name == sample:
                    return float(value)
        return 0.0


async def wait_for(condition, what, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"FAIL: timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def scenario(server: Server):
    resume = load_example()
    seen, resets = [], []
    resumer = resume.Resumer(
        f"ws://127.0.0.1:{server.port}", [CHANNEL],
        on_message=lambda channel, offset, data: seen.append((channel, offset, data)),
        on_reset=lambda channel: resets.append((channel, len(seen))),
    )
    client = asyncio.create_task(resumer.run())
    try:
        await wait_for(lambda: CHANNEL in resumer.positions, "the first subscribed answer")
        epoch = resumer.positions[CHANNEL][1]

        # 1. Live.
        for i in range(1, 21):
            answer = await asyncio.to_thread(server.publish, f"m{i}".encode())
            assert answer["offset"] == i and answer["epoch"] == epoch, answer
        await wait_for(lambda: len(seen) == 20, "messages 1-20")

        # 2. Dropped; 21-35 published while the client is away. This coroutine holds the loop until they are
        # out, so the example cannot reconnect before.
        first = resumer.ws
        first.transport.abort()
        for i in range(21, 36):
            server.publish(f"m{i}".encode())
        await wait_for(lambda: len(seen) == 35, "messages 21-35 recovered")
        assert resumer.ws is not first, "the example did not reconnect"

        # 3. Dropped in the middle of a burst; the last message binary.
        def burst():
            for i in range(36, 60):
                server.publish(json.dumps({"n": i}).encode(), "application/json")
                time.sleep(0.001)
        publisher = asyncio.create_task(asyncio.to_thread(burst))
        await wait_for(lambda: len(seen) >= 40, "messages of the burst")
        second = resumer.ws
        second.transport.abort()
        await publisher
        await asyncio.to_thread(server.publish, bytes([0, 1, 2, 255]), "application/octet-stream")
        await wait_for(lambda: len(seen) == 60, "messages 36-60")
        assert resumer.ws not in (first, second), "the example did not reconnect after the burst"
        assert not resets, f"on_reset called while recovery was possible: {resets}"
        recovered = server.metric('chorus_recoveries_total{outcome="recovered"}')
        replayed = server.metric("chorus_recovery_replayed_messages_total")
        assert recovered >= 2 and replayed >= 15, f"recoveries {recovered}, replayed {replayed}"

        # 4. A restart: new epoch, nothing to recover; the application must be told.
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start)
        await wait_for(lambda: resets, "on_reset after the restart")
        new_offset, new_epoch = resumer.positions[CHANNEL]
        assert new_epoch != epoch and new_offset == 0, resumer.positions
        await asyncio.to_thread(server.publish, b"after restart")
        await wait_for(lambda: len(seen) == 61, "the first message after the restart")
        assert seen[60] == (CHANNEL, 1, "after restart"), seen[60]
        assert server.metric('chorus_recoveries_total{outcome="epoch_mismatch"}') == 1
    finally:
        client.cancel()
        try:
            await client
        except asyncio.CancelledError:
            pass

    offsets = [offset for _, offset, _ in seen[:60]]
    assert offsets == list(range(1, 61)), f"offsets out of order or repeated: {offsets}"
    for channel, offset, data in seen[:60]:
        expected = f"m{offset}" if offset <= 35 else {"n": offset} if offset < 60 else bytes([0, 1, 2, 255])
        assert channel == CHANNEL and data == expected, (channel, offset, data)
    print(f"PASS: 61 messages exactly once and in order across 2 dropped connections and a restart; "
          f"{replayed:.0f} replayed; on_reset after the restart only")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: resume-example-check.py path/to/chorus")
    readme_matches_example()
    with tempfile.NamedTemporaryFile(prefix="resume-check-", suffix=".log") as log:
        server = Server(sys.argv[1], free_port(), log)
        server.start()
        try:
            asyncio.run(asyncio.wait_for(scenario(server), timeout=40))
        except (AssertionError, asyncio.TimeoutError, SystemExit) as failure:
            log.flush()
            tail = pathlib.Path(log.name).read_text(errors="replace")[-2000:]
            print(f"FAIL: {failure!r}\nchorus log:\n{tail}", file=sys.stderr)
            sys.exit(1)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
