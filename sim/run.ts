import type { BodyWriter, Producer } from "./body";
import type { Lease, Waiter } from "./capacity";
import type { Rng } from "./hash";
import type { FaultSpec } from "./options";
import type { Frame } from "./render";
import type { EndReason } from "./stats";

/**
 * The life of one admitted-or-queued response after its 200 headers: wait for a slot (keep-alives),
 * time to first token, paced tokens, and the injected body faults. Every wait goes through the writer,
 * so a client disconnect ends it immediately and the slot is released in `finally`.
 */

interface Timeline {
  stream: boolean;
  /** SSE frames, or for non-stream a single frame holding the JSON body. */
  frames: Frame[];
  /** Completion tokens in the answer (paces non-stream bodies). */
  tokens: number;
  ttftMs: number;
  tokensPerS: number;
  fault: FaultSpec;
  keepAliveMs: number;
  queueTimeoutMs: number;
  firstTokenKeepAliveMs: number;
  stallMs: number;
  stallKeepAlive: boolean;
  /** Seeded picks for fault positions the spec leaves open. */
  rng: Rng;
}

interface Admission {
  /** Set when a slot was free on arrival. */
  lease?: Lease | undefined;
  wait(): Waiter;
  onQueued(): void;
  onTokens(n: number): void;
}

const SSE_KEEP_ALIVE = ": keep-alive\n\n";
const JSON_KEEP_ALIVE = "\n";

async function admit(t: Timeline, a: Admission, w: BodyWriter, ka: string): Promise<Lease | undefined> {
  if (a.lease) return a.lease;
  a.onQueued();
  const waiter = a.wait();
  let lease: Lease | undefined;
  try {
    const deadline = Date.now() + t.queueTimeoutMs;
    while (!lease) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      const step = t.keepAliveMs > 0 ? Math.min(t.keepAliveMs, left) : left;
      lease = await w.within(waiter.granted, step);
      if (!lease && step === t.keepAliveMs && deadline > Date.now()) await w.write(ka);
    }
    return lease;
  } finally {
    if (!lease) waiter.cancel();
  }
}

function stall(
  t: Timeline,
  w: BodyWriter,
  ka: string,
  spec: { ms?: number; keepAlive?: boolean },
): Promise<void> {
  return w.idle(spec.ms ?? t.stallMs, (spec.keepAlive ?? t.stallKeepAlive) ? t.keepAliveMs : 0, ka);
}

/** A data event cut inside its JSON, as a broken upstream or proxy might send it. */
const MALFORMED_EVENT = 'data: {"id":"broken","choices":[{"delta":{"content":"x\n\n';

/** Where a mid-stream fault strikes: after `afterChunks` data events, leaving at least [DONE] unsent. */
function faultIndex(frames: number, afterChunks: number | undefined, rng: Rng): number {
  const last = Math.max(1, frames - 1);
  return Math.min(afterChunks ?? rng.int(1, Math.max(1, frames - 2)), last);
}

async function streamFrames(t: Timeline, a: Admission, w: BodyWriter): Promise<EndReason> {
  const fault = t.fault;
  const midStream =
    fault.kind === "cutMidStream" || fault.kind === "stallMidStream" || fault.kind === "malformedEvent";
  const stopAt = midStream ? faultIndex(t.frames.length, fault.afterChunks, t.rng) : -1;
  const start = Date.now();
  let tokens = 0;
  for (const [i, frame] of t.frames.entries()) {
    if (i === stopAt && fault.kind === "cutMidStream") return "cut";
    if (i === stopAt && fault.kind === "stallMidStream") {
      await stall(t, w, SSE_KEEP_ALIVE, fault);
      return "stalled";
    }
    if (i === stopAt && fault.kind === "malformedEvent") await w.write(MALFORMED_EVENT);
    if (frame.token) {
      if (t.tokensPerS > 0 && tokens > 0) await w.sleep(start + (tokens * 1000) / t.tokensPerS - Date.now());
      tokens++;
      a.onTokens(1);
    }
    await w.write(frame.data);
  }
  return "completed";
}

async function sendBody(t: Timeline, a: Admission, w: BodyWriter): Promise<EndReason> {
  const fault = t.fault;
  if (t.tokensPerS > 0) await w.sleep((Math.max(0, t.tokens - 1) * 1000) / t.tokensPerS);
  const body = t.frames[0]?.data ?? "";
  if (fault.kind === "stallMidStream") {
    await stall(t, w, JSON_KEEP_ALIVE, fault);
    return "stalled";
  }
  if (fault.kind === "cutMidStream") {
    await w.write(body.slice(0, Math.floor(body.length / 2)));
    return "cut";
  }
  a.onTokens(t.tokens);
  await w.write(body);
  return "completed";
}

export function timelineProducer(t: Timeline, a: Admission): Producer {
  return async (w) => {
    const ka = t.stream ? SSE_KEEP_ALIVE : JSON_KEEP_ALIVE;
    const fault = t.fault;
    if (fault.kind === "blankBody") {
      const lines = fault.lines ?? 4;
      for (let i = 0; i < lines; i++) {
        await w.sleep((fault.afterMs ?? 0) / lines);
        await w.write(ka);
      }
      return "blank";
    }
    const lease = await admit(t, a, w, ka);
    if (!lease) return "queueTimeout";
    try {
      if (fault.kind === "stallBeforeFirstToken") {
        await stall(t, w, ka, fault);
        return "stalled";
      }
      await w.idle(t.ttftMs, t.firstTokenKeepAliveMs, ka);
      return await (t.stream ? streamFrames(t, a, w) : sendBody(t, a, w));
    } finally {
      lease.release();
    }
  };
}
