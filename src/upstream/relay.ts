/** How a relayed stream ended; exactly one of these is reported, exactly once. */
export type RelayEnd =
  | { kind: "complete" }
  | { kind: "failed"; error: unknown }
  | { kind: "cancelled"; reason: unknown };

interface RelayHooks {
  /** Sees each chunk (on a side branch, never holding up the client's bytes); must be cheap and not throw. */
  chunk?(bytes: Uint8Array): void;
  /** Bytes to send the client before closing, e.g. an SSE error event instead of a silent cut. */
  trailer?(end: RelayEnd): Uint8Array | undefined;
  end(end: RelayEnd): void;
}

/** What the relay forwards: bytes already read while waiting for the first event, then the rest. */
export interface RelaySource {
  prefix: readonly Uint8Array[];
  /** The remaining upstream body, unlocked. */
  rest: ReadableStream<Uint8Array>;
}

/**
 * Pass-through relay. The upstream body is teed: one branch is piped natively into the client's
 * response (workerd moves the bytes, no JavaScript per chunk, no buffering), the other is read on the
 * side for usage and the like. The pipe keeps the client's stream open after the upstream ends, so a
 * failure can still be told in-band with a trailer.
 *
 * A client disconnect must tear the upstream down, or it keeps generating and billing. The side branch
 * would keep a teed source alive, so a disconnect, seen as the client's stream erroring or as
 * `clientSignal` aborting (workerd does not always report it one way), calls `abortUpstream`.
 */
export function relay(
  source: RelaySource,
  hooks: RelayHooks,
  abortUpstream: (reason: unknown) => void,
  clientSignal?: AbortSignal,
): ReadableStream<Uint8Array> {
  const { readable, writable } = new IdentityTransformStream();
  const [toClient, toTap] = source.rest.tee();
  let ended = false;
  const finish = (end: RelayEnd) => {
    if (ended) return;
    ended = true;
    clientSignal?.removeEventListener("abort", onClientAbort);
    hooks.end(end);
  };
  const cancel = (reason: unknown) => {
    if (ended) return;
    abortUpstream(reason);
    toTap.cancel(reason).catch(() => {});
    finish({ kind: "cancelled", reason });
  };
  const onClientAbort = () => cancel(clientSignal?.reason);
  if (clientSignal?.aborted) queueMicrotask(onClientAbort);
  else clientSignal?.addEventListener("abort", onClientAbort, { once: true });

  const tapped = readSide(source.prefix, toTap, hooks);
  void (async () => {
    let end: RelayEnd;
    try {
      const writer = writable.getWriter();
      for (const chunk of source.prefix) await writer.write(chunk);
      writer.releaseLock();
      await toClient.pipeTo(writable, { preventClose: true, preventAbort: true, preventCancel: true });
      const side = await tapped;
      end = side.ok ? { kind: "complete" } : { kind: "failed", error: side.error };
    } catch (error) {
      // The pipe fails for two reasons. An upstream failure errors both tee branches at once, so the
      // side branch has failed too by the next macrotask; if it is still reading, the client left.
      const side = await settledSoon(tapped);
      if (side === undefined || side.ok || clientSignal?.aborted) {
        toClient.cancel(error).catch(() => {});
        // Whoever still holds the client's body (a caller that signalled its departure but reads on)
        // sees it end in an error instead of waiting forever.
        writable.abort(error).catch(() => {});
        return cancel(error);
      }
      end = { kind: "failed", error: side.error };
    }
    if (ended) return;
    const tail = hooks.trailer?.(end);
    try {
      const writer = writable.getWriter();
      if (tail) await writer.write(tail);
      // Reported before the close: once the client's body is closed workerd may end the request, and
      // the end hook's work (lease release, usage ledger; all waitUntil) would never be scheduled.
      finish(end);
      await writer.close();
    } catch (error) {
      return cancel(error);
    }
  })();
  return readable;
}

/** Feeds the side branch to `hooks.chunk`; settles when the upstream ends or fails. */
async function readSide(
  prefix: readonly Uint8Array[],
  branch: ReadableStream<Uint8Array>,
  hooks: RelayHooks,
): Promise<{ ok: true } | { ok: false; error: unknown }> {
  for (const chunk of prefix) hooks.chunk?.(chunk);
  const reader = branch.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { ok: true };
      hooks.chunk?.(value);
    }
  } catch (error) {
    return { ok: false, error };
  }
}

/** `promise`'s value if it settles within a macrotask, else undefined. */
function settledSoon<T>(promise: Promise<T>): Promise<T | undefined> {
  return Promise.race([
    promise,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 0)),
  ]);
}
