import type { RelaySource } from "./relay";
import { SseParser } from "./sse";

type FirstEvent =
  /** Inference started (a data event arrived) or the commit point passed; `source` starts with what was read. */
  | { kind: "event" | "commit"; source: RelaySource }
  /** No data event by the deadline: the attempt is abandoned and may be retried. */
  | { kind: "timeout" }
  /** The stream closed before any data event: DeepSeek's give-up after queueing. */
  | { kind: "ended" }
  /** The first data event is an error: nothing was generated, and it must not reach the caller as is. */
  | { kind: "error"; payload: string };

/**
 * Holds a stream back until its first data event, so the router can still retry or fall back while
 * the upstream is only sending keep-alive comments. Past `commitAt` it stops waiting and lets the
 * caller commit (keep-alives then flow to the client, so slow queues do not starve it of bytes);
 * past `deadlineAt` it gives up. Nothing read is lost: the returned body starts with it.
 */
export async function awaitFirstEvent(
  body: ReadableStream<Uint8Array>,
  deadlineAt: number,
  commitAt: number,
  now: () => number = Date.now,
): Promise<FirstEvent> {
  const reader = body.getReader();
  // A broken upstream rejects `closed` too; the reads report it, so keep it from surfacing as unhandled.
  reader.closed.catch(() => {});
  const read: Uint8Array[] = [];
  let sawEvent = false;
  let firstPayload = "";
  const parser = new SseParser({
    data: (payload) => {
      if (!sawEvent) firstPayload = payload;
      sawEvent = true;
    },
  });
  for (;;) {
    const pending = reader.read();
    const waitUntil = Math.min(deadlineAt, commitAt);
    const outcome = await raceTimer(pending, waitUntil - now());
    if (outcome === "timer") {
      if (now() >= deadlineAt) {
        // The abandoned read rejects once the attempt is aborted; nobody is waiting for it any more.
        pending.catch(() => {});
        reader.cancel().catch(() => {});
        return { kind: "timeout" };
      }
      // A read is in flight, so the body cannot be handed on as is; a small wrapper finishes it first.
      return { kind: "commit", source: { prefix: read, rest: continuing(reader, pending) } };
    }
    if (outcome.done) {
      parser.end();
      if (!sawEvent) return { kind: "ended" };
      reader.releaseLock();
      return { kind: "event", source: { prefix: read, rest: body } };
    }
    read.push(outcome.value);
    parser.push(outcome.value);
    if (sawEvent && isErrorPayload(firstPayload)) {
      reader.cancel().catch(() => {});
      return { kind: "error", payload: firstPayload };
    }
    if (sawEvent) {
      reader.releaseLock();
      return { kind: "event", source: { prefix: read, rest: body } };
    }
  }
}

function isErrorPayload(payload: string): boolean {
  return payload.startsWith('{"error"') || payload.startsWith('{ "error"');
}

async function raceTimer<T>(promise: Promise<T>, ms: number): Promise<T | "timer"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timer">((resolve) => {
    timer = setTimeout(() => resolve("timer"), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A stream that yields a read already in flight, then the rest of `reader`. */
function continuing(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  pending: Promise<ReadableStreamReadResult<Uint8Array>>,
): ReadableStream<Uint8Array> {
  let inFlight: Promise<ReadableStreamReadResult<Uint8Array>> | undefined = pending;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const result = await (inFlight ?? reader.read());
        inFlight = undefined;
        if (result.done) controller.close();
        else controller.enqueue(result.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
