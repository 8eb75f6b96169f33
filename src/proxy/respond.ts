import { RouterError } from "../errors";
import { type Usage, usageFromWire } from "../observe/usage";
import { CompletionTap } from "../upstream/completion-tap";
import { type RelayEnd, relay } from "../upstream/relay";
import { sseEvent } from "../upstream/sse";

export type AnswerOutcome = "complete" | "truncated" | "failed" | "cancelled";

/** How an answer ended, reported once when the stream closes (or the JSON is read). */
export interface AnswerEnd {
  outcome: AnswerOutcome;
  finishReason?: string;
  usage?: Usage;
  /** From sending the request upstream to the first token; the JSON's arrival when not streamed. */
  firstTokenMs?: number;
}

const MAX_JSON_ANSWER_BYTES = 32 * 1024 * 1024;

/**
 * Something else that watches an answer as it is relayed (the cache's capture, for one): it sees the
 * bytes the caller sees, then how the answer ended. It must be cheap and must not throw.
 */
export interface AnswerObserver {
  chunk?(bytes: Uint8Array): void;
  end(end: AnswerEnd): void;
}

/** Relays an upstream SSE body to the caller as it arrives; `onEnd` fires once, however it ends. */
export function streamAnswer(
  body: ReadableStream<Uint8Array>,
  headers: Headers,
  clientSignal: AbortSignal,
  sentAt: number,
  observers: readonly AnswerObserver[],
): Response {
  const tap = new CompletionTap();
  const stream = relay(
    body,
    {
      chunk: (bytes) => {
        tap.push(bytes);
        for (const observer of observers) observer.chunk?.(bytes);
      },
      trailer: (end) => midStreamFailure(end, tap),
      end: (end) => {
        tap.end();
        const answer: AnswerEnd = {
          outcome: outcomeOf(end, tap),
          finishReason: tap.finishReason,
          usage: tap.usage,
          firstTokenMs: tap.firstTokenAt === undefined ? undefined : tap.firstTokenAt - sentAt,
        };
        for (const observer of observers) observer.end(answer);
      },
    },
    clientSignal,
  );
  headers.set("content-type", "text/event-stream; charset=utf-8");
  headers.set("cache-control", "no-cache");
  return new Response(stream, { status: 200, headers });
}

function outcomeOf(end: RelayEnd, tap: CompletionTap): AnswerOutcome {
  if (end.kind === "cancelled") return "cancelled";
  if (end.kind === "failed" || tap.upstreamError !== undefined) return "failed";
  return tap.done ? "complete" : "truncated";
}

/**
 * After the first byte the status is committed, so a failure can only be told in-band: an SSE error
 * event, which the OpenAI SDKs raise as an APIError, instead of a cut that looks like a finished answer.
 */
function midStreamFailure(end: RelayEnd, tap: CompletionTap): Uint8Array | undefined {
  if (end.kind === "cancelled" || tap.upstreamError !== undefined) return undefined;
  if (end.kind === "complete" && tap.done) return undefined;
  const message =
    end.kind === "failed"
      ? "The upstream connection failed mid-stream; the answer is incomplete."
      : "The upstream ended the stream before the answer was complete.";
  return sseEvent(new RouterError("upstream_error", message).toEnvelope());
}

/**
 * Awaits a non-streamed answer whole: DeepSeek may precede the JSON with keep-alive blank lines, or
 * close with nothing but them, and the router must not commit a 200 it cannot keep.
 */
export async function jsonAnswer(
  response: Response,
  headers: Headers,
  sentAt: number,
  observers: readonly AnswerObserver[],
): Promise<Response> {
  const fail = (message: string): never => {
    for (const observer of observers) observer.end({ outcome: "failed" });
    throw new RouterError("upstream_error", message);
  };
  const text = (await response.text()).trimStart();
  if (text === "") fail("The upstream closed the connection without an answer.");
  if (text.length > MAX_JSON_ANSWER_BYTES) fail("The upstream answer exceeds the router's size limit.");
  let answer: { usage?: unknown; choices?: Array<{ finish_reason?: unknown }> } = {};
  try {
    answer = JSON.parse(text);
  } catch {
    fail("The upstream answer is not valid JSON.");
  }
  const finishReason = answer.choices?.[0]?.finish_reason;
  const bytes = new TextEncoder().encode(text);
  const end: AnswerEnd = {
    outcome: "complete",
    usage: usageFromWire(answer.usage),
    finishReason: typeof finishReason === "string" ? finishReason : undefined,
    firstTokenMs: performance.now() - sentAt,
  };
  for (const observer of observers) {
    observer.chunk?.(bytes);
    observer.end(end);
  }
  headers.set("content-type", "application/json");
  return new Response(bytes, { status: 200, headers });
}
