import { concatBytes } from "../bytes";
import { BranchReader, type RelaySource } from "./relay";
import { eventData } from "./sse";

type FirstEvent =
  /** Inference started (a data event arrived) or the commit point passed; `source` starts with what was read. */
  | { kind: "event" | "commit"; source: RelaySource }
  /** No data event by the deadline: the attempt is abandoned and may be retried. */
  | { kind: "timeout" }
  /** The stream closed before any data event: DeepSeek's give-up after queueing. */
  | { kind: "ended" }
  /** The first data event is an error: nothing was generated, and it must not reach the caller as is. */
  | { kind: "error"; payload: string };

/** A first read's size: the first event, or a few keep-alive comments before it. */
const FIRST_READ_BYTES = 4096;

/**
 * Holds a stream back until its first data event, so the router can still retry or fall back while
 * the upstream is only sending keep-alive comments. Past `commitAt` it stops waiting and lets the
 * caller commit (keep-alives then flow to the client, so slow queues do not starve it of bytes);
 * past `deadlineAt` it gives up.
 *
 * The body is teed at once and only the side branch is read here: the client's branch keeps every
 * byte in the tee until the relay pipes it, so nothing read is lost or written twice, and the relay's
 * side reader carries on with this reader (no lock handed back, no wrapper around a read in flight).
 */
export async function awaitFirstEvent(
  body: ReadableStream<Uint8Array>,
  deadlineAt: number,
  commitAt: number,
  now: () => number = Date.now,
): Promise<FirstEvent> {
  const [toClient, toSide] = body.tee();
  const reader = BranchReader.open(toSide);
  const abandon = () => {
    reader.cancel();
    toClient.cancel().catch(() => {});
  };
  const read: Uint8Array[] = [];
  const scan = new FirstEventScan();
  // One timer for the whole wait, raced against each read.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<"timer">((resolve) => {
    timer = setTimeout(() => resolve("timer"), Math.max(0, Math.min(deadlineAt, commitAt) - now()));
  });
  try {
    for (;;) {
      const pending = reader.read(new ArrayBuffer(FIRST_READ_BYTES));
      const outcome = await Promise.race([pending, expiry]);
      if (outcome === "timer") {
        if (now() >= deadlineAt) {
          // The abandoned read rejects once the attempt is aborted; nobody is waiting for it any more.
          pending.catch(() => {});
          abandon();
          return { kind: "timeout" };
        }
        return { kind: "commit", source: { toClient, side: { reader, read, pending } } };
      }
      const payload = outcome.done ? scan.end() : scan.push(outcome.value);
      if (payload === undefined) {
        if (!outcome.done) {
          read.push(outcome.value);
          continue;
        }
        toClient.cancel().catch(() => {});
        return { kind: "ended" };
      }
      if (isErrorPayload(payload)) {
        abandon();
        return { kind: "error", payload };
      }
      if (!outcome.done) read.push(outcome.value);
      return { kind: "event", source: { toClient, side: { reader, read } } };
    }
  } finally {
    clearTimeout(timer);
  }
}

/** DeepSeek's `{"error":…}`, or an Anthropic-style `{"type":"error",…}` event. */
function isErrorPayload(payload: string): boolean {
  return (
    payload.startsWith('{"error"') || payload.startsWith('{ "error"') || payload.startsWith('{"type":"error"')
  );
}

const LF = 10;
const CR = 13;
const COLON = 58;
const decoder = new TextDecoder();

/**
 * Finds the first data event's payload in bytes as they arrive, without decoding what precedes it:
 * keep-alive comments are skipped by their first byte, and only the one event found is decoded.
 */
class FirstEventScan {
  /** Bytes of the event being read (not yet ended by a blank line). */
  private partial: Uint8Array | undefined;

  /** The first data event's payload, once a whole one has arrived. */
  push(bytes: Uint8Array): string | undefined {
    const text = this.partial ? concatBytes([this.partial, bytes]) : bytes;
    let start = 0;
    for (let at = text.indexOf(LF); at !== -1; at = text.indexOf(LF, at + 1)) {
      // A blank line: "\n\n", or the "\n\r\n" that ends "\r\n\r\n".
      const next = text[at + 1] === LF ? at + 2 : text[at + 1] === CR && text[at + 2] === LF ? at + 3 : -1;
      if (next === -1) continue;
      const payload = dataOf(text, start, at);
      if (payload !== undefined) return payload;
      start = next;
      at = next - 1;
    }
    this.partial = start < text.byteLength ? text.slice(start) : undefined;
    return undefined;
  }

  /** A final event that was not followed by a blank line. */
  end(): string | undefined {
    return this.partial && dataOf(this.partial, 0, this.partial.byteLength);
  }
}

/** The payload of the event in `bytes[start, end)`, if it is a data event (a comment starts with `:`). */
function dataOf(bytes: Uint8Array, start: number, end: number): string | undefined {
  const last = bytes[end - 1] === CR ? end - 1 : end;
  if (last <= start || bytes[start] === COLON) return undefined;
  return eventData(decoder.decode(bytes.subarray(start, last)));
}
