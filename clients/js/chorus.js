// chorus.js: the browser and Node client of Chorus's chorus.v1 wire protocol (README.md, "Never miss a message").
// An ES module with no dependencies and no build step; the types are in chorus.d.ts. The server serves this very
// file at GET /chorus.js.

const PROTOCOL = "chorus.v1";
const TOKEN_PREFIX = "chorus.token.";
/** A token is renewed this long before its `exp` (or half its remaining life, when that is shorter). */
const REFRESH_MARGIN_MS = 30_000;
/** setTimeout's largest delay; longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const CHANNEL_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
const EVENTS = ["state", "recovery", "subscribed", "error"];

/**
 * A chorus.v1 connection that follows channels and survives drops: it reconnects with backoff, resumes every
 * subscription from the last offset and epoch it delivered, and renews its token before it expires.
 */
export class Chorus {
    #urls;
    #urlIndex = 0;
    #WebSocket;
    #fetch;
    #backoff;
    #random;
    #protocols;
    #getToken;
    #token;
    #tokenRefreshAt = Infinity;
    #tokenRequest = null;
    /** channel -> { callbacks: Set, offset, epoch (null before the first answer), answered, resyncing } */
    #channels = new Map();
    #listeners = new Map(EVENTS.map((event) => [event, new Set()]));
    #state = "disconnected";
    #ws = null;
    #closed = false;
    /** Consecutive failures: the exponent of the backoff. */
    #attempt = 0;
    #reconnectTimer = null;
    #refreshTimer = null;
    #probe = null;

    /**
     * @param {string | string[]} urls one or more `ws://HOST:PORT/ws` URLs, tried in turn
     * @param {import("./chorus.d.ts").ChorusOptions} [options]
     */
    constructor(urls, options = {}) {
        this.#urls = Array.isArray(urls) ? [...urls] : [urls];
        if (this.#urls.length === 0) throw new TypeError("Chorus: at least one URL is needed");
        this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
        const fetchFunction = options.fetch ?? globalThis.fetch;
        this.#fetch = fetchFunction ? (...args) => fetchFunction(...args) : null;
        this.#backoff = { initial: options.backoff?.initial ?? 500, max: options.backoff?.max ?? 30_000 };
        this.#random = options.random ?? Math.random;
        this.#protocols = options.protocols ?? [PROTOCOL];
        this.#getToken = options.getToken ?? null;
        if (options.token !== undefined) this.#setToken(options.token);
        // Started after the caller's synchronous code, so listeners added right after `new` see every state.
        queueMicrotask(() => this.#connect());
    }

    /** "connecting", "connected", "disconnected" (between attempts, or after close()) or "failed" (gave up). */
    get state() {
        return this.#state;
    }

    /**
     * Follows `channel`: `callback(data, {channel, offset, epoch})` once per message, in order. `data` is the parsed
     * JSON (a string for plain text) or, for binary messages, a Uint8Array. `since` resumes from a position the
     * application kept. Returns a handle whose `unsubscribe()` removes this callback.
     */
    subscribe(channel, callback, { since } = {}) {
        if (typeof channel !== "string" || !CHANNEL_NAME.test(channel)) {
            throw new TypeError(`Chorus: invalid channel name ${JSON.stringify(channel)}`);
        }
        if (typeof callback !== "function") throw new TypeError("Chorus: subscribe needs a callback");
        let subscription = this.#channels.get(channel);
        if (!subscription) {
            subscription = {
                callbacks: new Set(),
                offset: since?.offset ?? 0,
                epoch: since?.epoch ?? null,
                answered: false,
                resyncing: false,
            };
            this.#channels.set(channel, subscription);
            if (this.#state === "connected") this.#sendSubscribe(channel, subscription);
        }
        const entry = { callback }; // its own object: the same function may be subscribed twice
        subscription.callbacks.add(entry);
        return {
            channel,
            unsubscribe: () => {
                if (!subscription.callbacks.delete(entry) || subscription.callbacks.size > 0) return;
                if (this.#channels.get(channel) !== subscription) return;
                this.#channels.delete(channel);
                if (this.#state === "connected") this.#send({ unsubscribe: channel });
            },
        };
    }

    /**
     * Publishes `data` (any JSON value; a string is published as plain text) to `channel`, when the server allows
     * client publishing. Returns false, sending nothing, while not connected. Refusals arrive as "error" events.
     */
    publish(channel, data, { echo } = {}) {
        if (data === undefined) throw new TypeError("Chorus: publish needs data");
        if (this.#state !== "connected") return false;
        const request = { publish: channel, data };
        if (echo === false) request.echo = false;
        this.#send(request);
        return true;
    }

    /** Adds a listener; returns a function that removes it. */
    on(event, listener) {
        const listeners = this.#listeners.get(event);
        if (!listeners) throw new TypeError(`Chorus: unknown event ${JSON.stringify(event)}`);
        listeners.add(listener);
        return () => listeners.delete(listener);
    }

    /** Closes the connection for good: no reconnect, no timer or request left running. */
    close() {
        if (this.#closed) return;
        this.#stop();
        this.#setState("disconnected");
    }

    // MARK: Connecting

    async #connect() {
        if (this.#closed) return;
        this.#setState("connecting");
        const url = this.#urls[this.#urlIndex];
        let token;
        try {
            token = await this.#currentToken();
        } catch (error) {
            if (this.#closed) return;
            this.#emit("error", { type: "token", error });
            return this.#retry();
        }
        if (this.#closed) return;
        let ws;
        try {
            const protocols = token ? [...this.#protocols, TOKEN_PREFIX + token] : this.#protocols;
            ws = new this.#WebSocket(url, protocols);
        } catch (error) {
            this.#emit("error", { type: "connect", error });
            return this.#retry();
        }
        ws.binaryType = "arraybuffer";
        this.#ws = ws;
        let opened = false;
        ws.onopen = () => {
            opened = true;
            this.#opened();
        };
        ws.onmessage = (event) => this.#receive(event.data);
        ws.onclose = (event) => {
            if (this.#ws !== ws) return;
            this.#ws = null;
            if (opened) this.#dropped(event.code, event.reason);
            else this.#failedToOpen(url, token);
        };
        // A close event follows an error, except after a refused handshake in some implementations (Node 20's).
        ws.onerror = () => {
            if (opened || this.#ws !== ws) return;
            this.#ws = null;
            ws.onclose = null;
            ws.close();
            this.#failedToOpen(url, token);
        };
    }

    #opened() {
        this.#attempt = 0;
        this.#setState("connected");
        for (const [channel, subscription] of this.#channels) this.#sendSubscribe(channel, subscription);
        this.#scheduleRefresh();
    }

    /** A connection that was open is gone: resume, renew the token, or give up on a policy close. */
    async #dropped(code, reason) {
        clearTimeout(this.#refreshTimer);
        this.#refreshTimer = null;
        for (const subscription of this.#channels.values()) {
            subscription.answered = false;
            subscription.resyncing = false;
        }
        if (this.#closed) return;
        if (code === 1008 && reason === "token expired") {
            if (!this.#getToken) return this.#fail({ type: "close", code, reason });
            this.#setState("disconnected");
            try {
                if (Date.now() >= this.#tokenRefreshAt) await this.#refreshToken();
            } catch (error) {
                if (this.#closed) return;
                this.#emit("error", { type: "token", error });
                return this.#retry();
            }
            if (this.#closed) return;
            // The application has nothing fresher to give: connecting again would only be refused.
            const expiry = tokenExpiry(this.#token);
            if (expiry !== null && expiry <= Date.now()) return this.#fail({ type: "close", code, reason });
            return this.#connect(); // at once, with the fresh token, from the same URL
        }
        // Slow consumers resume; any other policy close (a refused request, a flood) would only happen again.
        if (code === 1008 && reason !== "slow consumer") return this.#fail({ type: "close", code, reason });
        this.#retry({ nextURL: true });
    }

    /**
     * A browser cannot read the status of a refused handshake, so ask the same URL over plain HTTP: 503 with
     * Retry-After (the server refuses upgrades for now), 401/403 (never admitted), 426 (an upgrade would be).
     */
    async #failedToOpen(url, token) {
        if (this.#closed) return;
        this.#setState("disconnected");
        const answer = await this.#ask(url, token);
        if (this.#closed) return;
        if (answer.status === 400 || answer.status === 401 || answer.status === 403) {
            return this.#fail({ type: "handshake", status: answer.status });
        }
        const waitMs = answer.status === 503 ? retryAfterMs(answer.retryAfter) : 0;
        this.#retry({ nextURL: true, waitMs });
    }

    async #ask(url, token) {
        if (!this.#fetch) return {};
        const controller = new AbortController();
        this.#probe = controller;
        let response;
        try {
            response = await this.#fetch(httpURL(url), {
                method: "GET",
                // Connection: close, or Node's fetch keeps the socket for the next WebSocket handshake, which Chorus
                // does not take on a connection that already served a request (browsers ignore this header).
                headers: { Connection: "close", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
                cache: "no-store",
                signal: controller.signal,
            });
        } catch {
            return {}; // CORS, network, aborted: ordinary backoff
        } finally {
            if (this.#probe === controller) this.#probe = null;
        }
        response.body?.cancel().catch(() => {}); // the answer is in the head; free the connection
        return { status: response.status, retryAfter: response.headers?.get("Retry-After") ?? null };
    }

    #retry({ nextURL = false, waitMs = 0 } = {}) {
        if (this.#closed) return;
        this.#setState("disconnected");
        if (nextURL) this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
        const delay = waitMs + backoffDelay(this.#attempt, this.#backoff, this.#random);
        this.#attempt += 1;
        this.#reconnectTimer = setTimeout(() => {
            this.#reconnectTimer = null;
            this.#connect();
        }, Math.min(delay, MAX_TIMER_MS));
    }

    #fail(detail) {
        this.#stop();
        this.#emit("error", detail);
        this.#setState("failed");
    }

    #stop() {
        this.#closed = true;
        clearTimeout(this.#reconnectTimer);
        clearTimeout(this.#refreshTimer);
        this.#reconnectTimer = this.#refreshTimer = null;
        this.#probe?.abort();
        const ws = this.#ws;
        this.#ws = null;
        if (ws) {
            ws.onopen = ws.onmessage = ws.onclose = null;
            ws.close(1000);
        }
    }

    // MARK: Tokens

    async #currentToken() {
        if (this.#getToken && (this.#token === undefined || Date.now() >= this.#tokenRefreshAt)) {
            await this.#refreshToken();
        }
        return this.#token;
    }

    /** One getToken() call at a time, shared by whoever needs it. */
    #refreshToken() {
        this.#tokenRequest ??= (async () => {
            try {
                const token = await this.#getToken();
                if (typeof token !== "string" || token === "") throw new TypeError("getToken() gave no token");
                this.#setToken(token);
            } finally {
                this.#tokenRequest = null;
            }
        })();
        return this.#tokenRequest;
    }

    #setToken(token) {
        this.#token = token;
        const expiry = tokenExpiry(token);
        const remaining = expiry === null ? Infinity : expiry - Date.now();
        this.#tokenRefreshAt = expiry === null ? Infinity : expiry - Math.min(REFRESH_MARGIN_MS, remaining / 2);
    }

    /** Renews the token shortly before it expires; the server then closes with 1008 "token expired". */
    #scheduleRefresh() {
        clearTimeout(this.#refreshTimer);
        this.#refreshTimer = null;
        if (!this.#getToken || this.#tokenRefreshAt === Infinity) return;
        const delay = Math.max(0, this.#tokenRefreshAt - Date.now());
        this.#refreshTimer = setTimeout(() => {
            this.#refreshTimer = null;
            if (Date.now() < this.#tokenRefreshAt) return this.#scheduleRefresh(); // past MAX_TIMER_MS
            this.#refreshToken().catch((error) => {
                if (!this.#closed) this.#emit("error", { type: "token", error });
            });
        }, Math.min(delay, MAX_TIMER_MS));
    }

    // MARK: Messages

    #send(request) {
        this.#ws?.send(JSON.stringify(request));
    }

    #sendSubscribe(channel, subscription) {
        const request = { subscribe: channel };
        if (subscription.epoch !== null) request.since = { offset: subscription.offset, epoch: subscription.epoch };
        subscription.answered = false;
        this.#send(request);
    }

    #receive(data) {
        if (typeof data !== "string") {
            const bytes = ArrayBuffer.isView(data)
                ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
                : new Uint8Array(data);
            let delivery;
            try {
                delivery = parseBinary(bytes);
            } catch (error) {
                return this.#emit("error", { type: "protocol", error });
            }
            return this.#deliver(delivery);
        }
        let message;
        try {
            message = JSON.parse(data);
        } catch (error) {
            return this.#emit("error", { type: "protocol", error });
        }
        if ("data" in message) this.#deliver(message);
        else if ("subscribed" in message) this.#subscribed(message);
        else if ("resync" in message) this.#resync(message.resync);
        else if ("error" in message) this.#refused(message);
        // {"unsubscribed": …} needs nothing.
    }

    #deliver({ channel, offset, epoch, data }) {
        const subscription = this.#channels.get(channel);
        // While resyncing, the resubscription's answer and replay cover whatever arrives before them.
        if (!subscription || subscription.resyncing) return;
        if (epoch === subscription.epoch && offset <= subscription.offset) return; // already delivered
        subscription.offset = offset;
        subscription.epoch = epoch;
        const meta = { channel, offset, epoch };
        for (const { callback } of [...subscription.callbacks]) safely(() => callback(data, meta));
    }

    #subscribed({ subscribed: channel, offset, epoch, recovered }) {
        const subscription = this.#channels.get(channel);
        if (!subscription) return;
        const resumed = subscription.epoch !== null;
        subscription.answered = true;
        subscription.resyncing = false;
        // Recovered: the missed messages follow and move the position on. Otherwise start from here.
        if (!recovered) {
            subscription.offset = offset;
            subscription.epoch = epoch;
        }
        this.#emit("subscribed", { channel, offset, epoch, recovered });
        if (resumed) this.#emit("recovery", { channel, recovered, offset, epoch });
    }

    /** Messages after our position may be missing: subscribe again from it (the server allows it with since). */
    #resync(channel) {
        const subscription = this.#channels.get(channel);
        if (!subscription || subscription.epoch === null || this.#state !== "connected") return;
        subscription.resyncing = true;
        this.#sendSubscribe(channel, subscription);
    }

    #refused({ error, reason, channel }) {
        const subscription = channel === undefined ? undefined : this.#channels.get(channel);
        // A subscription waiting for its answer was refused (forbidden, too many, bad request): drop it. Errors
        // that only a publish gets leave it alone.
        if (subscription && !subscription.answered && error !== "overloaded" && error !== "publish_disabled") {
            this.#channels.delete(channel);
        }
        this.#emit("error", { type: "request", error, reason, ...(channel === undefined ? {} : { channel }) });
    }

    // MARK: Events

    #setState(state) {
        if (this.#state === state) return;
        this.#state = state;
        this.#emit("state", state);
    }

    #emit(event, value) {
        for (const listener of [...this.#listeners.get(event)]) safely(() => listener(value));
    }
}

/** Runs the application's callback; its error is reported as uncaught rather than lost, and breaks nothing here. */
function safely(callback) {
    try {
        callback();
    } catch (error) {
        queueMicrotask(() => {
            throw error;
        });
    }
}

/**
 * The wait before reconnect attempt `attempt` (0, 1, …), with full jitter: uniform in [0, min(max, initial·2^n)].
 */
export function backoffDelay(attempt, { initial, max }, random = Math.random) {
    return random() * Math.min(max, initial * 2 ** attempt);
}

/** A Retry-After value (seconds or an HTTP date) in milliseconds; 0 when absent or unreadable. */
export function retryAfterMs(value, now = Date.now()) {
    if (value === null || value === undefined || value === "") return 0;
    const seconds = Number(value);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(value);
    return Number.isNaN(date) ? 0 : Math.max(0, date - now);
}

/** The plain-HTTP URL of a WebSocket URL (ws: → http:, wss: → https:). */
export function httpURL(url) {
    const parsed = new URL(url, globalThis.location?.href);
    parsed.protocol = parsed.protocol === "wss:" ? "https:" : parsed.protocol === "ws:" ? "http:" : parsed.protocol;
    return parsed.href;
}

/** A JWT's `exp` in milliseconds since 1970, or null when it has none (the signature is the server's business). */
export function tokenExpiry(jwt) {
    const payload = String(jwt).split(".")[1];
    if (!payload) return null;
    try {
        const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
        const binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="));
        const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
        const exp = JSON.parse(json).exp;
        return typeof exp === "number" ? exp * 1000 : null;
    } catch {
        return null;
    }
}

/**
 * A binary delivery: 0x01, the channel's length and name, the offset (8 bytes, big-endian), the epoch's length and
 * epoch, then the payload (returned as a view, not a copy).
 */
export function parseBinary(bytes) {
    if (bytes.length < 2 || bytes[0] !== 0x01) throw new Error("chorus.v1: unknown binary delivery format");
    const channelEnd = 2 + bytes[1];
    if (bytes.length < channelEnd + 9) throw new Error("chorus.v1: truncated binary delivery");
    const view = new DataView(bytes.buffer, bytes.byteOffset + channelEnd, 8);
    const epochEnd = channelEnd + 9 + bytes[channelEnd + 8];
    if (bytes.length < epochEnd) throw new Error("chorus.v1: truncated binary delivery");
    const ascii = (from, to) => String.fromCharCode(...bytes.subarray(from, to));
    return {
        channel: ascii(2, channelEnd),
        offset: Number(view.getBigUint64(0)),
        epoch: ascii(channelEnd + 9, epochEnd),
        data: bytes.subarray(epochEnd),
    };
}
