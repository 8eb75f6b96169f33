import { type Usage, usageFromWire } from "../observe/usage";
import type { AnswerEnd, AnswerObserver } from "../proxy/respond";
import type { EventReader, EventReading } from "../surfaces";
import { SseParser } from "../upstream/sse";

/** What an answer looked like to its caller, ready to become a cache entry. */
export type CapturedAnswer =
  | { kind: "stream"; events: string[]; bytes: number; oversize: boolean; end: AnswerEnd }
  | { kind: "json"; json: string; bytes: number; oversize: boolean; end: AnswerEnd };

const decoder = new TextDecoder();

/**
 * Watches the answer the caller receives and keeps what a replay needs: for a stream, every SSE
 * event's `data` payload verbatim (keep-alive comments and `[DONE]` dropped, so a replay re-frames the
 * same events); for JSON, the body. Past `maxBytes` (counted in characters) it stops keeping anything,
 * so a runaway answer cannot grow the isolate's memory; the entry is then not stored.
 *
 * `onSettled` fires once: for a stream as soon as `[DONE]` arrives, while the request is still
 * streaming. Waiting for the relay's end would be too late for I/O: by then the client's response may
 * be complete, and workerd drops what a finished request starts, `waitUntil` included.
 */
export function captureAnswer(
  kind: "stream" | "json",
  maxBytes: number,
  onSettled: (answer: CapturedAnswer) => void,
  /** Reads another surface's events; its final event settles the answer as `[DONE]` does here. */
  reader?: EventReader,
): AnswerObserver {
  let bytes = 0;
  let oversize = false;
  let settled = false;
  const events: string[] = [];
  const jsonParts: Uint8Array[] = [];
  const seen: { finishReason?: string; usage?: Usage; error: boolean } = { error: false };
  const settle = (end: AnswerEnd) => {
    if (settled) return;
    settled = true;
    if (kind === "stream") {
      onSettled({ kind, events, bytes, oversize, end });
      return;
    }
    const json = oversize ? "" : decoder.decode(concat(jsonParts)).trim();
    onSettled({ kind, json, bytes, oversize, end });
  };
  const parser = new SseParser({
    data: (payload) => {
      if (settled) return;
      const reading = reader?.read(payload);
      if (reading) noteReading(reading, seen);
      else if (payload !== "[DONE]") noteChunk(payload, seen);
      if (payload === "[DONE]" || reading?.done) {
        const { finishReason, usage } = seen;
        if (reading?.done && !oversize) events.push(payload);
        settle({ outcome: seen.error ? "failed" : "complete", finishReason, usage });
        return;
      }
      if (oversize) return;
      bytes += payload.length;
      if (bytes > maxBytes) {
        oversize = true;
        events.length = 0;
      } else events.push(payload);
    },
  });
  return {
    chunk(chunk) {
      if (kind === "stream") {
        parser.push(chunk);
        return;
      }
      bytes += chunk.byteLength;
      if (oversize) return;
      if (bytes > maxBytes) {
        oversize = true;
        jsonParts.length = 0;
      } else jsonParts.push(chunk);
    },
    end(end) {
      if (kind === "stream") parser.end();
      settle(end);
    },
  };
}

/** The same, as another surface's reader read it. */
function noteReading(
  reading: EventReading,
  seen: { finishReason?: string; usage?: Usage; error: boolean },
): void {
  if (reading.error !== undefined) seen.error = true;
  if (reading.usage) seen.usage = reading.usage;
  if (reading.finishReason) seen.finishReason = reading.finishReason;
}

/** The finish reason, usage and any in-band error of a streamed chunk. */
function noteChunk(payload: string, seen: { finishReason?: string; usage?: Usage; error: boolean }): void {
  let chunk: { error?: unknown; usage?: unknown; choices?: unknown };
  try {
    chunk = JSON.parse(payload);
  } catch {
    return;
  }
  if (typeof chunk !== "object" || chunk === null) return;
  if (chunk.error !== undefined) seen.error = true;
  seen.usage = usageFromWire(chunk.usage) ?? seen.usage;
  if (!Array.isArray(chunk.choices)) return;
  for (const choice of chunk.choices as Array<{ finish_reason?: unknown }>) {
    if (typeof choice?.finish_reason === "string") seen.finishReason = choice.finish_reason;
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
