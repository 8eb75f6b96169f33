import { toRouterError } from "../errors";
import { dialectOf, type WireEndpoint } from "../surfaces";
import { SSE_KEEP_ALIVE, sseEvent } from "../upstream/sse";
import type { QueuedNotice } from "./gate";

/**
 * How often a committed, still-queued stream hears from the router. It is also how soon the router
 * learns that such a client left: workerd notices a closed socket only when it next writes to it, and
 * only then cancels the body (measured locally), so this bounds how long a departed waiter stays queued.
 */
export const QUEUED_KEEP_ALIVE_MS = 1_000;

type Settled = { response: Response } | { error: unknown };

/**
 * A streamed request that is still waiting for a slot when `queued` fires is committed at once: a
 * `200 text/event-stream` whose body is `: keep-alive` comments (the first immediately, then every
 * `keepAliveMs`) until the answer is ready, then the answer's own bytes. DeepSeek does the same while
 * it queues a stream, so clients and proxies see a live connection instead of timing out.
 *
 * The price of committing is that a later refusal (the wait ran out, the upstream failed) can only be
 * told in-band, as a final SSE `data: {"error":…}` event, which the OpenAI SDKs raise as APIError.
 * Quick outcomes never pay it: a grant or shed before `queued` fires returns the real response (a real
 * `429` included). `onCommit` lets the caller stamp what is known at that moment on the headers.
 */
export async function holdWhileQueued(
  answer: Promise<Response>,
  queued: Promise<QueuedNotice>,
  headers: Headers,
  on: {
    commit(notice: QueuedNotice): void;
    leave(reason: unknown): void;
    /** The answer's wire format, for an error told in-band. */
    endpoint?: WireEndpoint;
  },
  keepAliveMs = QUEUED_KEEP_ALIVE_MS,
): Promise<Response> {
  const settled: Promise<Settled> = answer.then(
    (response) => ({ response }),
    (error: unknown) => ({ error }),
  );
  const first = await Promise.race([settled, queued]);
  if ("response" in first) return first.response;
  if ("error" in first) throw first.error;
  on.commit(first);
  headers.set("content-type", "text/event-stream; charset=utf-8");
  headers.set("cache-control", "no-cache");
  return new Response(committedBody(settled, keepAliveMs, on.leave, on.endpoint ?? "chat"), {
    status: 200,
    headers,
  });
}

function committedBody(
  settled: Promise<Settled>,
  keepAliveMs: number,
  leave: (reason: unknown) => void,
  endpoint: WireEndpoint,
): ReadableStream<Uint8Array> {
  let answer: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let started = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!started) {
          started = true;
          controller.enqueue(SSE_KEEP_ALIVE);
          return;
        }
        if (!answer) {
          const outcome = await within(settled, keepAliveMs);
          if (outcome === undefined) {
            controller.enqueue(SSE_KEEP_ALIVE);
            return;
          }
          if ("error" in outcome) {
            controller.enqueue(toRouterError(outcome.error).toEvent(endpoint));
            controller.close();
            return;
          }
          const { response } = outcome;
          if (!response.ok || !response.body) {
            // An error decided after commit (shed, upstream failure): its envelope, in-band.
            const text = await response.text();
            if (text.trim() !== "") controller.enqueue(framedError(text.trim(), endpoint));
            controller.close();
            return;
          }
          answer = response.body.getReader();
        }
        const { done, value } = await answer.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel(reason) {
        if (answer) return answer.cancel(reason);
        // The client left while still queued. The runtime's request signal does not fire for a body
        // already handed back, so this cancel is the only word of it: withdraw the waiter now, and
        // cancel an answer that raced the withdrawal so its relay releases the lease.
        leave(reason);
        const outcome = await settled;
        if ("response" in outcome) await outcome.response.body?.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** An error body already rendered for the surface, as its in-band event. */
function framedError(text: string, endpoint: WireEndpoint): Uint8Array {
  return dialectOf(endpoint)?.frame([text]) ?? sseEvent(text);
}
