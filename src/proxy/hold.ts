import type { QueuedNotice } from "../admission/gate";
import type { RouterError } from "../errors";
import { errorEvent, type WireEndpoint } from "../surfaces";
import { within } from "../timing";
import { SSE_KEEP_ALIVE, sseResponse } from "../upstream/sse";

/**
 * How often a committed, still-queued stream hears from the router. It is also how soon the router
 * learns that such a client left: workerd notices a closed socket only when it next writes to it, and
 * only then cancels the body (measured locally), so this bounds how long a departed waiter stays queued.
 */
const QUEUED_KEEP_ALIVE_MS = 1_000;

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
    /** A refusal after the commit: the error to tell in-band (logged once, if it is the router's own). */
    fail(error: unknown): RouterError;
    /** The answer's wire format, in whose envelope that error is told. */
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
  return sseResponse(committedBody(settled, keepAliveMs, on), headers);
}

function committedBody(
  settled: Promise<Settled>,
  keepAliveMs: number,
  on: { leave(reason: unknown): void; fail(error: unknown): RouterError; endpoint?: WireEndpoint },
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
            // A refusal decided after the commit (shed, upstream failure): its envelope, in-band.
            controller.enqueue(errorEvent(on.fail(outcome.error), on.endpoint));
            controller.close();
            return;
          }
          // The answer is always a 200 stream: every refusal before it is thrown, never returned.
          answer = (outcome.response.body as ReadableStream<Uint8Array>).getReader();
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
        on.leave(reason);
        const outcome = await settled;
        if ("response" in outcome) await outcome.response.body?.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
