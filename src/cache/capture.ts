import type { AnswerEnd, AnswerObserver } from "../answer";
import { concatBytes } from "../bytes";

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
 * `onSettled` fires once: for a stream as soon as its final event (`[DONE]`, or another surface's) arrives, while the request is still
 * streaming. Waiting for the relay's end would be too late for I/O: by then the client's response may
 * be complete, and workerd drops what a finished request starts, `waitUntil` included.
 */
export function captureAnswer(
  kind: "stream" | "json",
  maxBytes: number,
  onSettled: (answer: CapturedAnswer) => void,
): AnswerObserver {
  let bytes = 0;
  let oversize = false;
  let settled = false;
  const events: string[] = [];
  const jsonParts: Uint8Array[] = [];
  const settle = (end: AnswerEnd) => {
    if (settled) return;
    settled = true;
    if (kind === "stream") {
      onSettled({ kind, events, bytes, oversize, end });
      return;
    }
    const json = oversize ? "" : decoder.decode(concatBytes(jsonParts)).trim();
    onSettled({ kind, json, bytes, oversize, end });
  };
  // A stream is kept from the relay's parsed events; only a JSON answer is kept from its bytes.
  const keep = (size: number, part: () => void, parts: unknown[]) => {
    bytes += size;
    if (oversize) return;
    if (bytes > maxBytes) {
      oversize = true;
      parts.length = 0;
    } else part();
  };
  return {
    chunk(chunk) {
      if (kind === "json") keep(chunk.byteLength, () => jsonParts.push(chunk), jsonParts);
    },
    event(payload, soFar) {
      if (settled || kind !== "stream") return;
      // `[DONE]` is framing, re-added by a replay; another surface's final event is part of the answer.
      if (payload !== "[DONE]") keep(payload.length, () => events.push(payload), events);
      if (soFar.done) {
        const { finishReason, usage } = soFar;
        settle({ outcome: soFar.upstreamError !== undefined ? "failed" : "complete", finishReason, usage });
      }
    },
    end: settle,
  };
}
