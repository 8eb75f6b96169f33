/** How a relayed stream ended; exactly one of these is reported, exactly once. */
export type RelayEnd =
  | { kind: "complete" }
  | { kind: "failed"; error: unknown }
  | { kind: "cancelled"; reason: unknown };

interface RelayHooks {
  /**
   * Sees the bytes as the side branch drains them (never holding up the client's): a batch of whole or
   * partial chunks, in order, which the hook may keep. Must be cheap and not throw.
   */
  chunk?(bytes: Uint8Array): void;
  /**
   * How long the side branch may leave bytes buffered before draining them: 0 (read each chunk as it
   * comes) until the caller has seen what it needs at once (the first token), then a pause that bounds
   * how late the side sees progress. Fewer drains are the relay's whole cost (one isolate entry each).
   */
  pauseMs?(): number;
  /**
   * The client left while the upstream still sends (its pipe failed). Without this hook that cancels
   * the relay. With it, the relay is cancelled only if `clientSignal` aborts in return; otherwise the
   * answer goes on for others who read it through the hooks, and the side drains it to its end.
   */
  clientLeft?(reason: unknown): void;
  /** Bytes to send the client before closing, e.g. an SSE error event instead of a silent cut. */
  trailer?(end: RelayEnd): Uint8Array | undefined;
  end(end: RelayEnd): void;
}

/**
 * What the relay forwards: the upstream body, teed before anything was read. The client's branch still
 * holds every byte from the first; the side branch is already being read (for the first event).
 */
export interface RelaySource {
  toClient: ReadableStream<Uint8Array>;
  side: SideStart;
}

/** The side branch's reader, what it has read so far, and a read still in flight, if any. */
export interface SideStart {
  reader: BranchReader;
  read: readonly Uint8Array[];
  pending?: Promise<ReadableStreamReadResult<Uint8Array>>;
}

/** Reads a tee branch: into the caller's buffer where the stream allows it (a native one), else chunk by chunk. */
export class BranchReader {
  private constructor(
    private readonly reader: ReadableStreamBYOBReader | ReadableStreamDefaultReader<Uint8Array>,
    /** Whether a read fills the buffer it is given (so a chunk kept past the next read must be copied). */
    readonly fillsBuffer: boolean,
  ) {
    // A broken upstream rejects `closed` too; the reads report it, so keep it from surfacing as unhandled.
    reader.closed.catch(() => {});
  }

  static open(branch: ReadableStream<Uint8Array>): BranchReader {
    // A JS-backed body (another provider's) has no BYOB reader.
    try {
      return new BranchReader(branch.getReader({ mode: "byob" }), true);
    } catch {
      return new BranchReader(branch.getReader(), false);
    }
  }

  /** The next bytes, read into `buffer` (detached by the read; the result's view hands it back). */
  read(buffer: ArrayBuffer): Promise<ReadableStreamReadResult<Uint8Array>> {
    return this.fillsBuffer
      ? (this.reader as ReadableStreamBYOBReader).read(new Uint8Array(buffer))
      : (this.reader as ReadableStreamDefaultReader<Uint8Array>).read();
  }

  cancel(reason?: unknown): void {
    this.reader.cancel(reason).catch(() => {});
  }
}

/**
 * Pass-through relay. The upstream body was teed before its first read: one branch is piped natively
 * into the client's response (workerd moves the bytes, no JavaScript per chunk, no buffering), the
 * other is drained on the side for usage and the like, in paced batches (see `pauseMs`): the tee keeps
 * what the side has not read yet in native memory, and one BYOB read into a reused buffer takes all of
 * it, so JavaScript wakes a few times per stream instead of once per chunk. The pipe keeps the client's
 * stream open after the upstream ends, so a failure can still be told in-band with a trailer; the
 * side's last drain happens before that, so its hooks have seen every byte by the time `end` is reported.
 *
 * A client disconnect must tear the upstream down, or it keeps generating and billing. The side branch
 * would keep a teed source alive, so a disconnect, seen as the client's stream erroring or as
 * `clientSignal` aborting (workerd does not always report it one way), calls `abortUpstream`, unless
 * others still read the answer (see `clientLeft`).
 */
export function relay(
  source: RelaySource,
  hooks: RelayHooks,
  abortUpstream: (reason: unknown) => void,
  clientSignal?: AbortSignal,
): ReadableStream<Uint8Array> {
  const { readable, writable } = new IdentityTransformStream();
  const { toClient } = source;
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
    source.side.reader.cancel(reason);
    finish({ kind: "cancelled", reason });
  };
  const onClientAbort = () => cancel(clientSignal?.reason);
  if (clientSignal?.aborted) queueMicrotask(onClientAbort);
  else clientSignal?.addEventListener("abort", onClientAbort, { once: true });

  const side = new SideReader(hooks);
  const tapped = side.read(source.side);
  void (async () => {
    let end: RelayEnd;
    try {
      await toClient.pipeTo(writable, { preventClose: true, preventAbort: true, preventCancel: true });
      side.wake(true);
      const result = await tapped;
      end = result.ok ? { kind: "complete" } : { kind: "failed", error: result.error };
    } catch (error) {
      // The pipe fails for two reasons. An upstream failure errors both tee branches at once, so the
      // side branch fails too once it has drained what was buffered; if it is left waiting for more
      // bytes instead, the upstream is still sending and the client left.
      side.wake(false);
      const result = await side.settledOrStuck(tapped);
      if (result === undefined || result.ok || clientSignal?.aborted) {
        toClient.cancel(error).catch(() => {});
        // Whoever still holds the client's body (a caller that signalled its departure but reads on)
        // sees it end in an error instead of waiting forever.
        writable.abort(error).catch(() => {});
        hooks.clientLeft?.(error);
        if (clientSignal?.aborted || !hooks.clientLeft) return cancel(error);
        // Others read on: drained to the end for them, unpaced since the wake.
        const rest = result ?? (await tapped);
        return finish(rest.ok ? { kind: "complete" } : { kind: "failed", error: rest.error });
      }
      end = { kind: "failed", error: result.error };
    }
    if (ended) return;
    const tail = hooks.trailer?.(end);
    try {
      // Reported before the close: once the client's body is closed workerd may end the request, and
      // the end hook's work (lease release, usage ledger; all waitUntil) would never be scheduled.
      if (tail) {
        const writer = writable.getWriter();
        await writer.write(tail);
        finish(end);
        await writer.close();
      } else {
        finish(end);
        await writable.close();
      }
    } catch (error) {
      return cancel(error);
    }
  })();
  return readable;
}

type SideResult = { ok: true } | { ok: false; error: unknown };

/**
 * A drain's buffer: 16 KiB takes what the tee buffers between paced drains at real token rates; a
 * drain that fills it doubles it, up to 64 KiB, for upstreams that send faster.
 */
const DRAIN_BYTES = 1 << 14;
const MAX_DRAIN_BYTES = 1 << 16;

/** Drains the side branch into `hooks.chunk`, paced by `hooks.pauseMs`; settles when the upstream ends or fails. */
class SideReader {
  /** Reads that returned, so a caller can tell "still draining" from "waiting for the upstream". */
  reads = 0;
  private woken = false;
  /** The client's pipe has ended cleanly: the upstream's end is already in the tee, behind what is left. */
  private upstreamEnded = false;
  private wakeUp: (() => void) | undefined;

  constructor(private readonly hooks: RelayHooks) {}

  /**
   * Stops pausing for good: the client's pipe has ended, so what is left is drained at once. `ended`
   * when it ended cleanly, with the upstream's end.
   */
  wake(ended: boolean): void {
    this.woken = true;
    this.upstreamEnded = ended;
    this.wakeUp?.();
  }

  async read(start: SideStart): Promise<SideResult> {
    const { reader } = start;
    // The first-event wait's reads each had a buffer of their own: their bytes are kept as they are.
    for (const chunk of start.read) this.hooks.chunk?.(chunk);
    let buffer: ArrayBuffer | undefined;
    try {
      if (start.pending) {
        const { done, value } = await start.pending;
        this.reads++;
        if (done || !value) return { ok: true };
        this.hooks.chunk?.(value);
      }
      for (;;) {
        await this.pause();
        buffer ??= new ArrayBuffer(DRAIN_BYTES);
        const size = buffer.byteLength;
        // Known before the read, so the read starts after the end was queued: a read that does not
        // fill the buffer then took everything, and a last read just to see `done` is not needed.
        const last = this.upstreamEnded;
        const { done, value } = await reader.read(buffer);
        this.reads++;
        if (done || !value) return { ok: true };
        if (!reader.fillsBuffer) {
          this.hooks.chunk?.(value);
          continue;
        }
        // A copy the hooks may keep (a flight's followers do): the drained bytes, once per drain.
        this.hooks.chunk?.(value.slice());
        if (last && value.byteLength < size) return { ok: true };
        // The read took the buffer (detached it); its view hands the same memory back for the next one.
        buffer =
          value.byteLength === size && size < MAX_DRAIN_BYTES
            ? new ArrayBuffer(size * 2)
            : (value.buffer as ArrayBuffer);
      }
    } catch (error) {
      return { ok: false, error };
    }
  }

  /**
   * `side`'s result once it stops making progress within a macrotask; undefined if it is blocked on a
   * read (or still reading after a few drains: the upstream is alive and sending).
   */
  async settledOrStuck(side: Promise<SideResult>): Promise<SideResult | undefined> {
    for (let turn = 0; turn < 8; turn++) {
      const before = this.reads;
      const result = await Promise.race([
        side,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 0)),
      ]);
      if (result !== undefined || this.reads === before) return result;
    }
    return undefined;
  }

  private pause(): Promise<void> | undefined {
    const ms = this.woken ? 0 : (this.hooks.pauseMs?.() ?? 0);
    if (ms <= 0) return undefined;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}
