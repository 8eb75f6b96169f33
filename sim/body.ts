import type { EndReason } from "./stats";

/**
 * A response body written over time by an async producer. Cancelling the stream (client disconnect)
 * or aborting `external` (the request's signal) makes every pending write/sleep throw {@link Aborted},
 * so the producer stops at once and its `finally` blocks free what it holds.
 */

class Aborted extends Error {
  override name = "Aborted";
}

export interface BodyWriter {
  readonly signal: AbortSignal;
  /** Enqueues `text`, waiting while the consumer is behind. */
  write(text: string): Promise<void>;
  sleep(ms: number): Promise<void>;
  /** Sleeps `ms`, writing `keepAlive` every `intervalMs` (0 = silently). */
  idle(ms: number, intervalMs: number, keepAlive: string): Promise<void>;
  /** `promise`'s value, or undefined after `ms`. */
  within<T>(promise: Promise<T>, ms: number): Promise<T | undefined>;
}

/** How the producer wants the stream to end. */
export type Producer = (w: BodyWriter) => Promise<EndReason>;

const encoder = new TextEncoder();
const HIGH_WATER_MARK = 16;

export function streamBody(
  produce: Producer,
  onEnd: (reason: EndReason) => void,
  external?: AbortSignal,
  /** Sees every piece of text as it is sent, e.g. to record the exact bytes for tests. */
  onWrite?: (text: string) => void,
): ReadableStream<Uint8Array> {
  const ac = new AbortController();
  const signal = ac.signal;
  let cancelled = false;
  let drained: (() => void) | undefined;
  const abort = () => ac.abort();
  external?.addEventListener("abort", abort, { once: true });
  signal.addEventListener("abort", () => drained?.(), { once: true });

  const check = () => {
    if (signal.aborted) throw new Aborted();
  };

  const sleep = (ms: number): Promise<void> => {
    check();
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(new Aborted());
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  };

  const within = async <T>(promise: Promise<T>, ms: number): Promise<T | undefined> => {
    check();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort = () => {};
    try {
      return await Promise.race([
        promise,
        new Promise<undefined>((resolve, reject) => {
          timer = setTimeout(() => resolve(undefined), ms);
          onAbort = () => reject(new Aborted());
          signal.addEventListener("abort", onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  };

  const finish = async (
    controller: ReadableStreamDefaultController<Uint8Array>,
    reason: EndReason,
    error?: unknown,
  ) => {
    external?.removeEventListener("abort", abort);
    // error() drops queued chunks; a cut connection still delivers what was sent before it.
    while (reason === "cut" && !signal.aborted && (controller.desiredSize ?? 0) < HIGH_WATER_MARK) {
      await new Promise<void>((resolve) => {
        drained = resolve;
      });
    }
    if (!cancelled) {
      if (reason === "completed" || reason === "stalled" || reason === "blank" || reason === "queueTimeout") {
        controller.close();
      } else controller.error(error ?? new Error("simulated connection reset"));
    }
    onEnd(reason);
  };

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const writer: BodyWriter = {
          signal,
          async write(text) {
            check();
            controller.enqueue(encoder.encode(text));
            onWrite?.(text);
            if ((controller.desiredSize ?? 1) <= 0) {
              await new Promise<void>((resolve) => {
                drained = resolve;
              });
              check();
            }
          },
          sleep,
          async idle(ms, intervalMs, keepAlive) {
            if (intervalMs <= 0) return sleep(ms);
            const until = Date.now() + ms;
            for (;;) {
              const left = until - Date.now();
              if (left < intervalMs) return sleep(left);
              await sleep(intervalMs);
              await writer.write(keepAlive);
            }
          },
          within,
        };
        produce(writer).then(
          (reason) => finish(controller, reason),
          (e: unknown) => {
            if (e instanceof Aborted || signal.aborted)
              return finish(controller, "aborted", new Aborted("request aborted"));
            console.error("simulator: response producer failed", e);
            return finish(controller, "cut", e);
          },
        );
      },
      pull() {
        drained?.();
        drained = undefined;
      },
      cancel() {
        cancelled = true;
        ac.abort();
      },
    },
    { highWaterMark: HIGH_WATER_MARK },
  );
}
