/**
 * Incremental SSE parser for the side channel: it never holds up the bytes the client receives, it
 * only reads them. Events are separated by a blank line; `data:` lines carry the payload and lines
 * starting with `:` are comments (DeepSeek's `: keep-alive`).
 */
interface SseHandlers {
  data(payload: string): void;
  comment?(text: string): void;
}

export class SseParser {
  private readonly decoder = new TextDecoder();
  private buffer = "";

  constructor(private readonly handlers: SseHandlers) {}

  push(bytes: Uint8Array): void {
    this.buffer += this.decoder.decode(bytes, { stream: true });
    for (;;) {
      const boundary = findEventBoundary(this.buffer);
      if (boundary === undefined) return;
      this.dispatch(this.buffer.slice(0, boundary.at));
      this.buffer = this.buffer.slice(boundary.at + boundary.length);
    }
  }

  /** Flushes a final event that was not followed by a blank line. */
  end(): void {
    this.buffer += this.decoder.decode();
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
