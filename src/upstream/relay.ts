/** How a relayed stream ended; exactly one of these is reported, exactly once. */
export type RelayEnd =
  | { kind: "complete" }
  | { kind: "failed"; error: unknown }
  | { kind: "cancelled"; reason: unknown };

export interface RelayHooks {
  /** Sees each chunk right after it is handed to the client; must be cheap and must not throw. */
  chunk?(bytes: Uint8Array): void;
  /** Bytes to send the client before closing, e.g. an SSE error event instead of a silent cut. */
  trailer?(end: RelayEnd): Uint8Array | undefined;
  end(end: RelayEnd): void;
}

/**
 * Pass-through relay: each upstream chunk is forwarded as it arrives, byte for byte, pulled only as fast
 * as the client reads (no buffering beyond one chunk). A client disconnect, seen either as a cancelled
 * body or as `clientSignal` aborting, cancels the upstream read so the upstream request is torn down;
 * workerd does not always cancel a JS stream on disconnect, hence both.
 */
export function relay(
  source: ReadableStream<Uint8Array>,
  hooks: RelayHooks,
  clientSignal?: AbortSignal,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  // A broken upstream rejects `closed` too; `pull` reports it, so keep it from surfacing as unhandled.
  reader.closed.catch(() => {});
  let ended = false;
  const finish = (end: RelayEnd) => {
    if (ended) return;
    ended = true;
    clientSignal?.removeEventListener("abort", onClientAbort);
    hooks.end(end);
  };
  const cancelUpstream = (reason: unknown) => {
    finish({ kind: "cancelled", reason });
    reader.cancel(reason).catch(() => {});
  };
  const onClientAbort = () => cancelUpstream(clientSignal?.reason);
  if (clientSignal?.aborted) queueMicrotask(onClientAbort);
  else clientSignal?.addEventListener("abort", onClientAbort, { once: true });

  const closeWith = (controller: ReadableStreamDefaultController<Uint8Array>, end: RelayEnd) => {
    const tail = hooks.trailer?.(end);
    if (tail) controller.enqueue(tail);
    controller.close();
    finish(end);
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (error) {
          if (ended || clientSignal?.aborted) return;
          closeWith(controller, { kind: "failed", error });
          return;
        }
        if (ended) return;
        if (result.done) {
          closeWith(controller, { kind: "complete" });
          return;
        }
        controller.enqueue(result.value);
        hooks.chunk?.(result.value);
      },
      cancel(reason) {
        cancelUpstream(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
