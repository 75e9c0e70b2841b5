// Unit tests of chorus.js's own logic (backoff, URL rotation, resume, recovery, tokens, refusals) with a scripted
// WebSocket and fetch: each test plays the server's part message by message. The real server is in e2e.test.js.
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";

import { Chorus, backoffDelay, httpURL, parseBinary, retryAfterMs, tokenExpiry } from "../chorus.js";

/** A WebSocket the test drives: it records what the client sends and plays the server's events. */
function scriptedSockets() {
    const sockets = [];
    const waiting = [];
    class ScriptedSocket {
        constructor(url, protocols) {
            Object.assign(this, { url, protocols, sent: [], closedWith: null, createdAt: Date.now() });
            sockets.push(this);
            waiting.splice(0).forEach((resolve) => resolve(this));
        }
        send(text) {
            this.sent.push(JSON.parse(text));
        }
        close(code) {
            this.closedWith = code;
        }
        open() {
            this.onopen?.({});
        }
        /** A JSON message given as an object, or a binary one as an ArrayBuffer. */
        receive(message) {
            this.onmessage?.({ data: message instanceof ArrayBuffer ? message : JSON.stringify(message) });
        }
        drop(code = 1006, reason = "") {
            this.onerror?.({});
            this.onclose?.({ code, reason });
        }
    }
    /** The next socket the client creates (or the one already created after `count` sockets). */
    const next = (count = sockets.length) =>
        sockets.length > count ? Promise.resolve(sockets[count]) : new Promise((resolve) => waiting.push(resolve));
    return { ScriptedSocket, sockets, next };
}

/** A fetch that answers the handshake probe with `status` (or throws, like a network or CORS failure). */
function probe(status, headers = {}) {
    const calls = [];
    const fetch = async (url, init) => {
        calls.push({ url, init });
        if (status === null) throw new TypeError("fetch failed");
        return { status, headers: new Headers(headers), body: null };
    };
    return { fetch, calls };
}

function nextEvent(client, event, predicate = () => true) {
    return new Promise((resolve) => {
        const off = client.on(event, (value) => {
            if (!predicate(value)) return;
            off();
            resolve(value);
        });
    });
}

const base64url = (text) => Buffer.from(text).toString("base64url");
const jwt = (claims) => `${base64url('{"alg":"HS256","typ":"JWT"}')}.${base64url(JSON.stringify(claims))}.c2ln`;
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const clients = [];
function connect(urls, options) {
    // No fetch of the real network by default: the probe fails as it would for a cross-origin page.
    const client = new Chorus(urls, { random: () => 0, fetch: probe(null).fetch, ...options });
    clients.push(client);
    return client;
}
afterEach(() => clients.splice(0).forEach((client) => client.close()));

/** Opens socket `socket` and answers the client's subscribe to `channel` at `offset`/`epoch`. */
function subscribed(socket, channel, offset, epoch, recovered = false) {
    socket.receive({ subscribed: channel, offset, epoch, recovered });
}

describe("backoff", () => {
    test("full jitter: uniform in [0, min(max, initial·2^n)], bounded by max", () => {
        const backoff = { initial: 100, max: 5_000 };
        for (let attempt = 0; attempt < 40; attempt++) {
            const ceiling = Math.min(5_000, 100 * 2 ** attempt);
            assert.equal(backoffDelay(attempt, backoff, () => 0), 0);
            assert.ok(Math.abs(backoffDelay(attempt, backoff, () => 0.999999) - ceiling) < 0.01 * ceiling);
            const samples = Array.from({ length: 200 }, () => backoffDelay(attempt, backoff));
            assert.ok(samples.every((value) => value >= 0 && value <= ceiling), `attempt ${attempt}`);
            assert.ok(new Set(samples).size > 150, "jittered, not a fixed delay");
        }
        assert.equal(backoffDelay(3, backoff, () => 0.5), 400);
        assert.equal(backoffDelay(1_000, backoff, () => 0.5), 2_500);
    });

    test("the client's waits grow after each failure and reset once connected", async () => {
        const { ScriptedSocket, sockets, next } = scriptedSockets();
        const { fetch } = probe(null);
        connect("ws://a/ws", { WebSocket: ScriptedSocket, fetch, backoff: { initial: 20, max: 80 }, random: () => 1 });
        for (let count = 0; count < 5; count++) (await next(count)).drop();
        const gaps = sockets.slice(1, 5).map((socket, index) => socket.createdAt - sockets[index].createdAt);
        // 20, 40, 80, 80 ms (timers may fire a little late, never early).
        [20, 40, 80, 80].forEach((wait, index) => assert.ok(gaps[index] >= wait - 1, `gap ${index}: ${gaps}`));
        assert.ok(gaps[3] < 80 * 4, `bounded by max: ${gaps}`);
        const sixth = await next(5);
        sixth.open();
        sixth.drop();
        const seventh = await next(6);
        assert.ok(seventh.createdAt - sixth.createdAt < 60, "back to initial after a connection opened");
    });

    test("503 + Retry-After waits at least that long; 426 or a failed fetch, the ordinary backoff", async () => {
        for (const [status, headers, atLeast] of [
            [503, { "Retry-After": "0.3" }, 300],
            [426, {}, 0],
            [null, {}, 0],
        ]) {
            const { ScriptedSocket, next } = scriptedSockets();
            const { fetch } = probe(status, headers);
            const client = connect("ws://a/ws", { WebSocket: ScriptedSocket, fetch, backoff: { initial: 1, max: 1 } });
            const first = await next(0);
            first.drop();
            const second = await next(1);
            const waited = second.createdAt - first.createdAt;
            assert.ok(waited >= atLeast - 1 && waited < atLeast + 200, `${status}: waited ${waited} ms`);
            assert.equal(client.state, "connecting");
        }
    });
});

test("each failure tries the next URL of the list", async () => {
    const { ScriptedSocket, sockets, next } = scriptedSockets();
    const { fetch } = probe(null);
    connect(["ws://a/ws", "ws://b/ws", "ws://c/ws"], { WebSocket: ScriptedSocket, fetch });
    (await next(0)).drop(); // failed before open
    const second = await next(1);
    second.open();
    second.drop(1001, "server shutting down"); // dropped after open
    (await next(2)).drop();
    await next(3);
    assert.deepEqual(
        sockets.map((socket) => socket.url),
        ["ws://a/ws", "ws://b/ws", "ws://c/ws", "ws://a/ws"]
    );
});

test("the handshake probe: one GET of the http(s) URL, with the token as a bearer, not cached", async () => {
    const { ScriptedSocket, next } = scriptedSockets();
    const { fetch, calls } = probe(426);
    const token = jwt({ sub: "u", exp: Math.floor(Date.now() / 1000) + 3600 });
    connect("wss://chorus.example/ws/news?x=1", { WebSocket: ScriptedSocket, fetch, token });
    const first = await next(0);
    assert.deepEqual(first.protocols, ["chorus.v1", `chorus.token.${token}`]);
    first.drop();
    await next(1);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].url, "https://chorus.example/ws/news?x=1");
    assert.equal(calls[0].init.method, "GET");
    assert.equal(calls[0].init.cache, "no-store");
    assert.deepEqual(calls[0].init.headers, { Connection: "close", Authorization: `Bearer ${token}` });
});

describe("resume", () => {
    test("deliveries carry their metadata; a reconnect resubscribes from the last offset and epoch", async () => {
        const { ScriptedSocket, next } = scriptedSockets();
        const client = connect("ws://a/ws", { WebSocket: ScriptedSocket });
        const received = [];
        client.subscribe("news", (data, meta) => received.push([data, meta]));
        client.subscribe("sport", () => {});
        const first = await next(0);
        first.open();
        assert.deepEqual(first.sent, [{ subscribe: "news" }, { subscribe: "sport" }]);
        subscribed(first, "news", 5, "k3J9aB7x");
        first.receive({ channel: "news", offset: 6, epoch: "k3J9aB7x", data: { price: 42 } });
        first.receive({ channel: "news", offset: 7, epoch: "k3J9aB7x", data: "plain text" });
        first.receive({ channel: "news", offset: 7, epoch: "k3J9aB7x", data: "plain text" }); // a duplicate
        const header = [1, 4, ...Buffer.from("news"), 0, 0, 0, 0, 0, 0, 0, 8, 8, ...Buffer.from("k3J9aB7x")];
        first.receive(new Uint8Array([...header, 0, 1, 255]).buffer);
        assert.deepEqual(received, [
            [{ price: 42 }, { channel: "news", offset: 6, epoch: "k3J9aB7x" }],
            ["plain text", { channel: "news", offset: 7, epoch: "k3J9aB7x" }],
            [new Uint8Array([0, 1, 255]), { channel: "news", offset: 8, epoch: "k3J9aB7x" }],
        ]);
        first.drop();
        const second = await next(1);
        second.open();
        assert.deepEqual(second.sent, [
            { subscribe: "news", since: { offset: 8, epoch: "k3J9aB7x" } },
            { subscribe: "sport" }, // never answered: nothing to resume from
        ]);
    });

    test("recovery events: recovered:true replays from the position, false moves to the new epoch", async () => {
        const { ScriptedSocket, next } = scriptedSockets();
        const client = connect("ws://a/ws", { WebSocket: ScriptedSocket });
        const offsets = [];
        const recoveries = [];
        client.on("recovery", (event) => recoveries.push(event));
        client.subscribe("news", (_, meta) => offsets.push(`${meta.epoch}:${meta.offset}`));
        const first = await next(0);
        first.open();
        subscribed(first, "news", 2, "epochAAA");
        assert.deepEqual(recoveries, [], "a first subscription is not a recovery");
        first.drop();

        const second = await next(1);
        second.open();
        subscribed(second, "news", 4, "epochAAA", true);
        second.receive({ channel: "news", offset: 3, epoch: "epochAAA", data: 3 });
        second.receive({ channel: "news", offset: 4, epoch: "epochAAA", data: 4 });
        second.drop();

        const third = await next(2);
        third.open();
        assert.deepEqual(third.sent, [{ subscribe: "news", since: { offset: 4, epoch: "epochAAA" } }]);
        subscribed(third, "news", 0, "epochBBB", false); // the server restarted: a new epoch, nothing kept
        third.receive({ channel: "news", offset: 1, epoch: "epochBBB", data: 1 });
        assert.deepEqual(recoveries, [
            { channel: "news", recovered: true, offset: 4, epoch: "epochAAA" },
            { channel: "news", recovered: false, offset: 0, epoch: "epochBBB" },
        ]);
        assert.deepEqual(offsets, ["epochAAA:3", "epochAAA:4", "epochBBB:1"]);
    });

    test("resync: subscribes again from the position; delivers the replay, not what came before it", async () => {
        const { ScriptedSocket, next } = scriptedSockets();
        const client = connect("ws://a/ws", { WebSocket: ScriptedSocket });
        const offsets = [];
        client.subscribe("news", (_, meta) => offsets.push(meta.offset));
        const socket = await next(0);
        socket.open();
        subscribed(socket, "news", 10, "epochAAA");
        socket.receive({ channel: "news", offset: 11, epoch: "epochAAA", data: 0 });
        socket.receive({ resync: "news", offset: 11, epoch: "epochAAA" });
        socket.receive({ channel: "news", offset: 14, epoch: "epochAAA", data: 0 }); // revealed the gap
        subscribed(socket, "news", 14, "epochAAA", true);
        for (const offset of [12, 13, 14, 15]) socket.receive({ channel: "news", offset, epoch: "epochAAA", data: 0 });
        assert.deepEqual(socket.sent.at(-1), { subscribe: "news", since: { offset: 11, epoch: "epochAAA" } });
        assert.deepEqual(offsets, [11, 12, 13, 14, 15]);
    });

    test("since resumes from a kept position; unsubscribing the last callback unsubscribes the channel", async () => {
        const { ScriptedSocket, next } = scriptedSockets();
        const client = connect("ws://a/ws", { WebSocket: ScriptedSocket });
        const one = client.subscribe("news", () => {}, { since: { offset: 7, epoch: "epochAAA" } });
        const two = client.subscribe("news", () => {});
        const socket = await next(0);
        socket.open();
        one.unsubscribe();
        two.unsubscribe();
        two.unsubscribe();
        assert.deepEqual(socket.sent, [
            { subscribe: "news", since: { offset: 7, epoch: "epochAAA" } },
            { unsubscribe: "news" },
        ]);
        assert.throws(() => client.subscribe("no spaces", () => {}), TypeError);
    });
});

describe("requests", () => {
    test("publish sends data and echo:false; false while not connected", async () => {
        const { ScriptedSocket, next } = scriptedSockets();
        const client = connect("ws://a/ws", { WebSocket: ScriptedSocket });
        assert.equal(client.publish("news", { a: 1 }), false);
        const socket = await next(0);
        socket.open();
        assert.equal(client.publish("news", { a: 1 }), true);
        assert.equal(client.publish("news", "hello", { echo: false }), true);
        assert.deepEqual(socket.sent, [
            { publish: "news", data: { a: 1 } },
            { publish: "news", data: "hello", echo: false },
        ]);
    });

    test("a refused subscription is reported and dropped; a refused publish keeps the subscription", async () => {
        const { ScriptedSocket, next } = scriptedSockets();
        const client = connect("ws://a/ws", { WebSocket: ScriptedSocket });
        const errors = [];
        client.on("error", (error) => errors.push(error));
        client.subscribe("secret", () => {});
        client.subscribe("news", () => {});
        const first = await next(0);
        first.open();
        const reason = "not allowed to subscribe to this channel";
        first.receive({ error: "forbidden", reason, channel: "secret" });
        subscribed(first, "news", 0, "epochAAA");
        first.receive({ error: "publish_disabled", reason: "client publish is disabled", channel: "news" });
        assert.deepEqual(errors, [
            { type: "request", error: "forbidden", reason, channel: "secret" },
            { type: "request", error: "publish_disabled", reason: "client publish is disabled", channel: "news" },
        ]);
        first.drop();
        const second = await next(1);
        second.open();
        assert.deepEqual(second.sent, [{ subscribe: "news", since: { offset: 0, epoch: "epochAAA" } }]);
    });
});

describe("tokens", () => {
    test("getToken() is asked shortly before exp; a 1008 'token expired' reconnects with the fresh token", async () => {
        const { ScriptedSocket, next } = scriptedSockets();
        const expiry = Math.floor(Date.now() / 1000) + 2;
        const first = jwt({ sub: "u", exp: expiry });
        const fresh = jwt({ sub: "u", exp: expiry + 3600 });
        const asked = [];
        const getToken = async () => {
            asked.push(Date.now());
            return fresh;
        };
        const client = connect("ws://a/ws", { WebSocket: ScriptedSocket, token: first, getToken });
        client.subscribe("news", () => {});
        const socket = await next(0);
        assert.deepEqual(socket.protocols, ["chorus.v1", `chorus.token.${first}`]);
        socket.open();
        subscribed(socket, "news", 3, "epochAAA");
        while (asked.length === 0) await delay(20);
        assert.ok(asked[0] < expiry * 1000, "asked before the token expired");
        socket.drop(1008, "token expired");
        const second = await next(1);
        assert.deepEqual(second.protocols, ["chorus.v1", `chorus.token.${fresh}`]);
        assert.ok(second.createdAt - socket.createdAt < 3_000);
        second.open();
        assert.deepEqual(second.sent, [{ subscribe: "news", since: { offset: 3, epoch: "epochAAA" } }]);
        assert.equal(asked.length, 1, "the token fetched in advance was used");
    });

    test("getToken() gives the first token when none is set", async () => {
        const { ScriptedSocket, next } = scriptedSockets();
        const token = jwt({ sub: "u", exp: Math.floor(Date.now() / 1000) + 3600 });
        connect("ws://a/ws", { WebSocket: ScriptedSocket, getToken: () => token });
        assert.deepEqual((await next(0)).protocols, ["chorus.v1", `chorus.token.${token}`]);
    });
});

describe("giving up", () => {
    const expired = jwt({ sub: "u", exp: Math.floor(Date.now() / 1000) - 10 });
    const cases = [
        ...[400, 401, 403].map((status) => [
            `${status} to the probe`,
            (socket) => socket.drop(),
            { fetch: probe(status).fetch },
            { type: "handshake", status },
        ]),
        [
            "a policy close",
            (socket) => (socket.open(), socket.drop(1008, "too many control frames")),
            {},
            { type: "close", code: 1008, reason: "too many control frames" },
        ],
        [
            "token expired without getToken",
            (socket) => (socket.open(), socket.drop(1008, "token expired")),
            { token: expired },
            { type: "close", code: 1008, reason: "token expired" },
        ],
        [
            "token expired, and getToken has nothing fresher",
            (socket) => (socket.open(), socket.drop(1008, "token expired")),
            { token: expired, getToken: async () => expired },
            { type: "close", code: 1008, reason: "token expired" },
        ],
    ];
    for (const [name, play, options, error] of cases) {
        test(`${name}: state failed, the error reported, no retry and no timer left`, async () => {
            const { ScriptedSocket, sockets, next } = scriptedSockets();
            const client = connect("ws://a/ws", { WebSocket: ScriptedSocket, ...options });
            const failed = nextEvent(client, "state", (state) => state === "failed");
            const reported = nextEvent(client, "error");
            play(await next(0));
            assert.deepEqual(await reported, error);
            await failed;
            await delay(50);
            assert.equal(sockets.length, 1);
            assert.deepEqual(activeTimers(), []);
        });
    }

    test("a slow consumer's 1008 resumes", async () => {
        const { ScriptedSocket, next } = scriptedSockets();
        const client = connect("ws://a/ws", { WebSocket: ScriptedSocket });
        client.subscribe("news", () => {});
        const first = await next(0);
        first.open();
        subscribed(first, "news", 9, "epochAAA");
        first.drop(1008, "slow consumer");
        const second = await next(1);
        second.open();
        assert.deepEqual(second.sent, [{ subscribe: "news", since: { offset: 9, epoch: "epochAAA" } }]);
    });
});

test("close() ends the connection, the pending reconnect and the token timer", async () => {
    const { ScriptedSocket, sockets, next } = scriptedSockets();
    const token = jwt({ sub: "u", exp: Math.floor(Date.now() / 1000) + 3600 });
    const states = [];
    const client = connect("ws://a/ws", { WebSocket: ScriptedSocket, token, getToken: () => token });
    client.on("state", (state) => states.push(state));
    const socket = await next(0);
    socket.open();
    assert.equal(activeTimers().length, 1, "the token's refresh timer");
    client.close();
    assert.equal(socket.closedWith, 1000);
    assert.deepEqual(activeTimers(), []);

    const backoff = { initial: 60_000, max: 60_000 };
    const waiting = connect("ws://a/ws", { WebSocket: ScriptedSocket, backoff, random: () => 1 });
    const second = await next(1);
    const disconnected = nextEvent(waiting, "state", (state) => state === "disconnected");
    second.drop();
    await disconnected;
    await delay(0); // the probe's answer
    assert.equal(activeTimers().length, 1, "the reconnect timer");
    waiting.close();
    assert.deepEqual(activeTimers(), []);
    assert.equal(sockets.length, 2);
    assert.deepEqual(states, ["connecting", "connected", "disconnected"]);
});

test("close() aborts a probe in flight", async () => {
    const { ScriptedSocket, next } = scriptedSockets();
    let asked;
    const probing = new Promise((resolve) => (asked = resolve));
    const fetch = (_, init) => {
        asked(init.signal);
        return new Promise((_, reject) => init.signal.addEventListener("abort", () => reject(init.signal.reason)));
    };
    const client = connect("ws://a/ws", { WebSocket: ScriptedSocket, fetch });
    (await next(0)).drop();
    const signal = await probing;
    assert.equal(signal.aborted, false);
    client.close();
    assert.equal(signal.aborted, true);
});

test("helpers: binary deliveries, token expiry, probe URLs, Retry-After", () => {
    const header = [1, 2, ...Buffer.from("ab"), 0, 0, 0, 1, 0, 0, 0, 2, 3, ...Buffer.from("xyz")];
    const parsed = parseBinary(new Uint8Array([...header, 9, 8]));
    const expected = { channel: "ab", offset: 2 ** 32 + 2, epoch: "xyz", data: [9, 8] };
    assert.deepEqual({ ...parsed, data: [...parsed.data] }, expected);
    assert.throws(() => parseBinary(new Uint8Array([2, 0])));
    assert.throws(() => parseBinary(new Uint8Array(header.slice(0, 10))));

    assert.equal(tokenExpiry(jwt({ sub: "ü", exp: 1_700_000_000 })), 1_700_000_000_000);
    assert.equal(tokenExpiry(jwt({ sub: "u" })), null);
    assert.equal(tokenExpiry("not a token"), null);

    assert.equal(httpURL("ws://127.0.0.1:8080/ws/news?a=b"), "http://127.0.0.1:8080/ws/news?a=b");
    assert.equal(httpURL("wss://x.example/ws"), "https://x.example/ws");

    assert.equal(retryAfterMs("3"), 3_000);
    assert.equal(retryAfterMs(null), 0);
    assert.equal(retryAfterMs("soon"), 0);
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6_000);
});

/** The timers this process has running (node:test's own are not counted: it keeps none between tests). */
function activeTimers() {
    return process.getActiveResourcesInfo().filter((name) => name === "Timeout");
}
