// Types of chorus.js, the client of Chorus's chorus.v1 wire protocol (README.md, "Never miss a message").

/** A position in a channel's stream: the offset of a message and the epoch that numbers it. */
export interface StreamPosition {
    offset: number;
    epoch: string;
}

/** What comes with each message. */
export interface DeliveryMeta extends StreamPosition {
    channel: string;
}

/**
 * A message's data: the parsed JSON value for a text message (a string for plain text), a Uint8Array (a view of the
 * received bytes) for a binary one.
 */
export type ChorusData = unknown;

export type ChorusState = "connecting" | "connected" | "disconnected" | "failed";

/** A subscription's answer (`subscribed`) and, after a resubscription with a position, the `recovery` event. */
export interface SubscriptionAnswer extends StreamPosition {
    channel: string;
    /** true: the missed messages follow; false: they are gone (new epoch, too old, too many): reload the state. */
    recovered: boolean;
}

export type ChorusError =
    /** A request refused by the server (`{"error": …}`), the connection stays open. A refused subscription ends. */
    | { type: "request"; error: string; reason: string; channel?: string }
    /** The handshake was refused (HTTP 400, 401 or 403, learned by a plain GET of the same URL): state "failed". */
    | { type: "handshake"; status: number }
    /** A close the client does not come back from (1008 other than "slow consumer", or an expiry without a fresh
     *  token): state "failed". */
    | { type: "close"; code: number; reason: string }
    /** getToken() threw or gave no token; the client retries with backoff. */
    | { type: "token"; error: unknown }
    /** The WebSocket constructor threw (a malformed URL, say); the client retries with backoff. */
    | { type: "connect"; error: unknown }
    /** A message from the server that is not chorus.v1. */
    | { type: "protocol"; error: unknown };

export interface ChorusEvents {
    state: ChorusState;
    /** Every `subscribed` answer, the first one included. */
    subscribed: SubscriptionAnswer;
    /** Each resubscription from a known position (after a reconnect, a resync, or `since`). */
    recovery: SubscriptionAnswer;
    error: ChorusError;
}

export interface ChorusOptions {
    /** A JWT, sent as the subprotocol `chorus.token.<jwt>` beside `chorus.v1`. */
    token?: string;
    /** Gives a fresh JWT: called before the first connection without `token`, shortly before `exp`, and after the
     *  server closed with 1008 "token expired". */
    getToken?: () => Promise<string> | string;
    /** The subprotocols offered (default `["chorus.v1"]`); the token's is added. */
    protocols?: string[];
    /** The WebSocket class (default `globalThis.WebSocket`). */
    WebSocket?: new (url: string, protocols?: string | string[]) => WebSocket;
    /** The fetch function for the one plain GET after a failed handshake (default `globalThis.fetch`). */
    fetch?: typeof fetch;
    /** Reconnect delays in milliseconds: uniform in [0, min(max, initial·2^n)] after n failures in a row
     *  (defaults 500 and 30,000). */
    backoff?: { initial?: number; max?: number };
    /** The random source of the jitter, in [0, 1) (default `Math.random`; for tests). */
    random?: () => number;
}

export interface Subscription {
    readonly channel: string;
    /** Removes this callback; the last one of a channel unsubscribes from it. */
    unsubscribe(): void;
}

export class Chorus {
    /** Connects to `urls` (`ws://HOST:PORT/ws`; a list is tried in turn, the next one after each failure). */
    constructor(urls: string | string[], options?: ChorusOptions);
    readonly state: ChorusState;
    /** Follows `channel`; `since` resumes from a position the application kept. */
    subscribe(
        channel: string,
        callback: (data: ChorusData, meta: DeliveryMeta) => void,
        options?: { since?: StreamPosition }
    ): Subscription;
    /** Publishes a JSON value (needs `--client-publish`); false, sending nothing, while not connected. */
    publish(channel: string, data: unknown, options?: { echo?: boolean }): boolean;
    /** Adds a listener; returns a function that removes it. */
    on<E extends keyof ChorusEvents>(event: E, listener: (value: ChorusEvents[E]) => void): () => void;
    /** Closes for good: no reconnect, no timer or request left running. */
    close(): void;
}

export function backoffDelay(attempt: number, backoff: { initial: number; max: number }, random?: () => number): number;
export function retryAfterMs(value: string | null | undefined, now?: number): number;
export function httpURL(url: string): string;
export function tokenExpiry(jwt: string): number | null;
export function parseBinary(bytes: Uint8Array): DeliveryMeta & { data: Uint8Array };
