import { concatBytes } from "../bytes";

/**
 * Incremental SSE parser for the side channel: it never holds up the bytes the client receives, it
 * only reads them. Events are separated by a blank line; `data:` lines carry the payload and lines
 * starting with `:` are comments (DeepSeek's `: keep-alive`).
 */
interface SseHandlers {
  data(payload: string): void;
  comment?(text: string): void;
  /** Data events `skim` counted without handing them over. */
  skipped?(count: number): void;
}

/** Stateless (never asked to stream), so one serves every parser: a stream's own costs a construction. */
const decoder = new TextDecoder();

export class SseParser {
  private buffer = "";
  /** The bytes after a chunk's last ASCII byte: possibly a character cut in two, decoded with the next. */
  private pending: Uint8Array | undefined;

  constructor(private readonly handlers: SseHandlers) {}

  push(bytes: Uint8Array): void {
    this.buffer += this.decode(bytes);
    this.drain();
  }

  /** `bytes` as text up to their last ASCII byte, after which no character can be cut; the rest waits. */
  private decode(bytes: Uint8Array): string {
    const all = this.pending ? concatBytes([this.pending, bytes]) : bytes;
    let cut = all.byteLength;
    while (cut > 0 && all[cut - 1]! >= 0x80) cut--;
    this.pending = cut < all.byteLength ? all.slice(cut) : undefined;
    return decoder.decode(cut < all.byteLength ? all.subarray(0, cut) : all);
  }

  /**
   * Like `push`, for a caller that needs most events only counted: unless `wanted` finds something in
   * the buffered text it must read (usage, an error, the end), the whole events are counted and dropped
   * in one pass, with no split, slice or handler call per event.
   */
  skim(bytes: Uint8Array, wanted: (text: string) => boolean): void {
    this.buffer += this.decode(bytes);
    const last = this.buffer.lastIndexOf("\n\n");
    if (last === -1 || this.buffer.includes("\r") || wanted(this.buffer)) {
      this.drain();
      return;
    }
    const whole = this.buffer.slice(0, last);
    this.buffer = this.buffer.slice(last + 2);
    this.handlers.skipped?.(countDataEvents(whole));
  }

  private drain(): void {
    for (;;) {
      const boundary = findEventBoundary(this.buffer);
      if (boundary === undefined) return;
      this.dispatch(this.buffer.slice(0, boundary.at));
      this.buffer = this.buffer.slice(boundary.at + boundary.length);
    }
  }

  /** Flushes a final event that was not followed by a blank line. */
  end(): void {
    if (this.pending) this.buffer += decoder.decode(this.pending);
    this.pending = undefined;
    if (this.buffer.trim() !== "") this.dispatch(this.buffer);
    this.buffer = "";
  }

  private dispatch(block: string): void {
    let data: string | undefined;
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) this.handlers.comment?.(line.slice(1).trim());
      else if (line.startsWith("data:")) {
        const value = line.slice(line.startsWith("data: ") ? 6 : 5);
        data = data === undefined ? value : `${data}\n${value}`;
      }
    }
    if (data !== undefined) this.handlers.data(data);
  }
}

/** The data of one event (the block between blank lines), its `data:` lines joined; undefined if it has none. */
export function eventData(block: string): string | undefined {
  let data: string | undefined;
  for (const line of block.split(/\r?\n/)) {
    if (!line.startsWith("data:")) continue;
    const value = line.slice(line.startsWith("data: ") ? 6 : 5);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}

/** Events (blocks between blank lines) that start with a `data:` line; LF framing only. */
function countDataEvents(text: string): number {
  let count = text.startsWith("data:") ? 1 : 0;
  for (let at = text.indexOf("\n\ndata:"); at !== -1; at = text.indexOf("\n\ndata:", at + 7)) count++;
  return count;
}

function findEventBoundary(buffer: string): { at: number; length: number } | undefined {
  const lf = buffer.indexOf("\n\n");
  const crlf = buffer.indexOf("\r\n\r\n");
  if (lf === -1 && crlf === -1) return undefined;
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { at: crlf, length: 4 };
  return { at: lf, length: 2 };
}

const encoder = new TextEncoder();

/** One SSE `data:` event, framed as DeepSeek frames it (compact JSON, blank line after). */
export function sseEvent(payload: unknown): Uint8Array {
  return encoder.encode(`data: ${typeof payload === "string" ? payload : JSON.stringify(payload)}\n\n`);
}

export const SSE_KEEP_ALIVE = encoder.encode(": keep-alive\n\n");
export const SSE_DONE = encoder.encode("data: [DONE]\n\n");

/** A `200 text/event-stream` answer: the one place the router frames an SSE response. */
export function sseResponse(body: ReadableStream<Uint8Array> | Uint8Array, headers: Headers): Response {
  headers.set("content-type", "text/event-stream; charset=utf-8");
  headers.set("cache-control", "no-cache");
  return new Response(body, { status: 200, headers });
}
