import { SseParser } from "./sse";

export type FirstEvent =
  /** Inference started (a data event arrived) or the commit point passed; `body` replays what was read. */
  | { kind: "event" | "commit"; body: ReadableStream<Uint8Array> }
  /** No data event by the deadline: the attempt is abandoned and may be retried. */
  | { kind: "timeout" }
  /** The stream closed before any data event: DeepSeek's give-up after queueing. */
  | { kind: "ended" };

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
  const parser = new SseParser({
    data: () => {
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
      return { kind: "commit", body: continuing(read, reader, pending) };
    }
    if (outcome.done) {
      parser.end();
      return sawEvent ? { kind: "event", body: continuing(read, reader) } : { kind: "ended" };
    }
    read.push(outcome.value);
    parser.push(outcome.value);
    if (sawEvent) return { kind: "event", body: continuing(read, reader) };
  }
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

/** A stream that yields `read`, then a read already in flight, then the rest of `reader`. */
function continuing(
  read: Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array>,
  pending?: Promise<ReadableStreamReadResult<Uint8Array>>,
): ReadableStream<Uint8Array> {
  const queued = [...read];
  let inFlight = pending;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = queued.shift();
        if (next) {
          controller.enqueue(next);
          return;
        }
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
