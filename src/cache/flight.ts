import type { AnswerEnd } from "../answer";
import type { RouterError } from "../errors";

/** Which step produced a coalesced answer, for the followers' decision headers. */
export interface ServedBy {
  model: string;
  pool: string;
  target: string;
  degraded?: string;
}

type FlightState =
  /** The leader is still planning, queueing or waiting for its first event. */
  | { phase: "pending" }
  /** The leader's answer is flowing; `chunks` grows. */
  | { phase: "answering"; kind: "stream" | "json"; servedBy: ServedBy }
  | { phase: "ended"; kind: "stream" | "json"; servedBy: ServedBy; end: AnswerEnd }
  /**
   * The leader failed before answering. `abandoned`: for its own reasons (its client left, its deadline,
   * wait or tenant limit), which say nothing about the upstream.
   */
  | { phase: "failed"; error: RouterError | "abandoned" };

/**
 * One upstream answer shared by identical requests in this isolate: the leader's bytes as its caller
 * received them, so a follower that joins late gets everything so far and then the rest as it comes.
 *
 * Followers never touch the leader's I/O objects (workerd forbids using one request's streams from
 * another) and never await a promise the leader created (its continuations would be cancelled if the
 * leader's request ended first): each wait is a promise the follower makes itself, which the leader
 * merely resolves.
 */
export class Flight {
  state: FlightState = { phase: "pending" };
  readonly chunks: Uint8Array[] = [];
  private waiters: Array<() => void> = [];
  private endedAt: number | undefined;
  /** Followers reading the answer now; the leader's departure leaves the upstream to them while any remain. */
  private readers = 0;
  private whenUnfollowed: Array<() => void> = [];

  /** `deadlineAt`: the leader's own deadline; a flight unfinished by then is abandoned. */
  constructor(private readonly deadlineAt: number) {}

  /**
   * A flight nobody should join any more. A leader always ends or fails its flight, and lands it; this
   * is the backstop for the ways a request can die without running its last callbacks, so one lost
   * leader can never pin a key in an isolate.
   */
  isStale(now: number): boolean {
    if (this.state.phase === "failed") return true;
    if (this.endedAt !== undefined) return now - this.endedAt > LINGER_MS;
    return now > this.deadlineAt;
  }

  /** Resolves at the next change of state or chunk, or after `timeoutMs`; made in the caller's context. */
  changed(timeoutMs: number, signal?: AbortSignal): Promise<"changed" | "timeout"> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle("timeout"), timeoutMs);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const settle = (outcome: "changed" | "timeout") => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        resolve(outcome);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(() => settle("changed"));
    });
  }

  /** A follower starts reading the answer; the returned function, called once, says it has stopped. */
  read(): () => void {
    this.readers++;
    let reading = true;
    return () => {
      if (!reading) return;
      reading = false;
      if (--this.readers > 0) return;
      const waiting = this.whenUnfollowed;
      this.whenUnfollowed = [];
      for (const resolve of waiting) resolve();
    };
  }

  /** Whether followers are reading an answer still flowing: the upstream call then serves them too. */
  get followed(): boolean {
    return this.readers > 0 && this.state.phase === "answering";
  }

  /**
   * Resolves when no follower reads any more (at once if none does). Made in the caller's context, so
   * its continuations run there even though the last follower's request is what resolves it.
   */
  unfollowed(): Promise<void> {
    if (this.readers === 0) return Promise.resolve();
    return new Promise((resolve) => this.whenUnfollowed.push(resolve));
  }

  /**
   * The leader's signal to stop its upstream call: its caller's departure, unless followers are reading
   * the flowing answer; then when the last of them stops, or `outliveMs` after the departure, whichever
   * comes first. Made in the leader's context, so its waits are the leader's own promises.
   */
  upstreamSignal(departure: AbortSignal, outliveMs: number): AbortSignal {
    const stop = new AbortController();
    const onDeparture = () => {
      if (!this.followed) return stop.abort(departure.reason);
      const outlived = new Promise((resolve) => setTimeout(resolve, outliveMs));
      void Promise.race([this.unfollowed(), outlived]).then(() => stop.abort(departure.reason));
    };
    if (departure.aborted) onDeparture();
    else departure.addEventListener("abort", onDeparture, { once: true });
    return stop.signal;
  }

  answering(kind: "stream" | "json", servedBy: ServedBy): void {
    if (this.state.phase !== "pending") return;
    this.state = { phase: "answering", kind, servedBy };
    this.wake();
  }

  /** Keeps a copy: the leader's buffer goes on to its own caller. */
  push(bytes: Uint8Array): void {
    if (this.state.phase !== "answering") return;
    this.chunks.push(bytes.slice());
    this.wake();
  }

  end(end: AnswerEnd): void {
    if (this.state.phase !== "answering") return;
    this.state = { phase: "ended", kind: this.state.kind, servedBy: this.state.servedBy, end };
    this.endedAt = Date.now();
    this.wake();
  }

  fail(error: RouterError | "abandoned"): void {
    if (this.state.phase !== "pending") return;
    this.state = { phase: "failed", error };
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * In-flight answers of this isolate by cache id. Per isolate, not global: a Durable Object per key would
 * coalesce across the whole fleet, at the price of an RPC hop on every cacheable miss and of streaming
 * every answer through the object (see docs/ARCHITECTURE.md, "Cache").
 */
const flights = new Map<string, Flight>();

/** How long a finished flight may still be joined while its entry is written; KV writes take well under it. */
const LINGER_MS = 10_000;

/** Joins the answer in flight for `key`, or registers a new one that the caller then leads until `deadlineAt`. */
export function joinOrLead(
  key: string,
  now: number,
  deadlineAt: number,
): { role: "leader" | "follower"; flight: Flight } {
  const existing = flights.get(key);
  if (existing && !existing.isStale(now)) return { role: "follower", flight: existing };
  const flight = new Flight(deadlineAt);
  flights.set(key, flight);
  return { role: "leader", flight };
}

/** Stops new requests from joining; those already following keep reading. */
export function land(key: string, flight: Flight): void {
  if (flights.get(key) === flight) flights.delete(key);
}

export function isInFlight(key: string, now: number): boolean {
  const flight = flights.get(key);
  return flight !== undefined && !flight.isStale(now);
}
