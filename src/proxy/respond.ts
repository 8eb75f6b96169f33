import { type AnswerEnd, type AnswerObserver, type AnswerOutcome, endedOutcome } from "../answer";
import { RouterError } from "../errors";
import { dialectOf, errorEvent, type WireEndpoint } from "../surfaces";
import { CompletionTap } from "../upstream/completion-tap";
import type { JsonAnswer } from "../upstream/errors";
import { type RelayEnd, type RelaySource, relay } from "../upstream/relay";
import { sseResponse } from "../upstream/sse";
import { usageFromWire } from "../usage";

/** The deadlines a committed stream must still meet, and how to stop its upstream when it does not. */
interface StreamWatch {
  firstTokenAt: number;
  idleMs: number;
  totalAt: number;
  abort(reason: RouterError): void;
  /** The answer's wire format: how its events are read and how a failure is told in-band. */
  endpoint?: WireEndpoint;
  /** The client left mid-stream: the caller's departure (see the relay's `clientLeft`). */
  clientLeft?(reason: unknown): void;
}

/** How long a stream's side reader leaves bytes buffered between drains once the first token is in. */
const SIDE_PAUSE_MS = 100;

/**
 * Relays an upstream SSE body to the caller as it arrives; observers see each chunk and, once, how it
 * ended. A watchdog enforces the first-token, idle and total deadlines on data events only: DeepSeek
 * keeps sending keep-alive comments through a stall, which must not count as progress.
 */
export function streamAnswer(
  source: RelaySource,
  headers: Headers,
  /** Stops the upstream: the caller's departure, unless others read the answer too. */
  clientSignal: AbortSignal,
  sentAt: number,
  observers: readonly AnswerObserver[],
  watch: StreamWatch,
): Response {
  const endpoint = watch.endpoint ?? "chat";
  // Only observers that read events make the tap hand over each one (a cacheable answer's capture,
  // kept reasoning); without them it skims the middle of the stream.
  const eventObservers = observers.filter((observer) => observer.event);
  const tap = new CompletionTap(
    undefined,
    eventObservers.length === 0
      ? undefined
      : (payload, soFar) => {
          for (const observer of eventObservers) observer.event?.(payload, soFar);
        },
    dialectOf(endpoint)?.reader(),
  );
  let stalled: RouterError | undefined;
  let seenEvents = 0;
  let lastDataAt = Date.now();
  // One timer per stream, re-armed when it fires rather than on every chunk.
  const dueAt = () =>
    Math.min(watch.totalAt, tap.firstTokenAt === undefined ? watch.firstTokenAt : lastDataAt + watch.idleMs);
  const check = () => {
    const now = Date.now();
    const due = dueAt();
    if (now < due) {
      timer = setTimeout(check, due - now);
      return;
    }
    stalled = new RouterError(
      "deadline_exceeded",
      now >= watch.totalAt
        ? "The request's deadline passed mid-stream; the answer is incomplete."
        : tap.firstTokenAt === undefined
          ? "The upstream sent no token in time; the answer is incomplete."
          : `The upstream stalled for ${watch.idleMs} ms mid-stream; the answer is incomplete.`,
    );
    watch.abort(stalled);
  };
  let timer = setTimeout(check, Math.max(0, dueAt() - Date.now()));
  const stream = relay(
    source,
    {
      chunk: (bytes) => {
        // Bytes first, then the events parsed from them: an observer that ends at `[DONE]` has its bytes.
        for (const observer of observers) observer.chunk?.(bytes);
        tap.push(bytes);
        if (tap.chunks !== seenEvents) {
          seenEvents = tap.chunks;
          lastDataAt = Date.now();
        }
      },
      // Unpaced until the first token, so firstTokenAt is exact; after it the idle deadline is late by
      // at most the pause, a quarter of it at most.
      pauseMs: () => (tap.firstTokenAt === undefined ? 0 : Math.min(SIDE_PAUSE_MS, watch.idleMs / 4)),
      clientLeft: watch.clientLeft,
      trailer: (end) => {
        const failure = midStreamFailure(end, tap, stalled);
        return failure && errorEvent(failure, endpoint, tap.chunks);
      },
      end: (end) => {
        clearTimeout(timer);
        tap.end();
        const answer: AnswerEnd = {
          outcome: outcomeOf(end, tap),
          finishReason: tap.finishReason,
          usage: tap.usage,
          outputEvents: tap.tokenChunks,
          firstTokenMs: tap.firstTokenAt === undefined ? undefined : tap.firstTokenAt - sentAt,
        };
        for (const observer of observers) observer.end(answer);
      },
    },
    (reason) => watch.abort(new RouterError("upstream_error", "The client went away.", { cause: reason })),
    clientSignal,
  );
  return sseResponse(stream, headers);
}

function outcomeOf(end: RelayEnd, tap: CompletionTap): AnswerOutcome {
  if (end.kind === "cancelled") return "cancelled";
  if (end.kind === "failed" || tap.upstreamError !== undefined) return "failed";
  return tap.done ? endedOutcome(tap.finishReason) : "truncated";
}

/**
 * After the first byte the status is committed, so a failure can only be told in-band: an SSE error
 * event, which the OpenAI SDKs raise as an APIError, instead of a cut that looks like a finished answer.
 */
function midStreamFailure(
  end: RelayEnd,
  tap: CompletionTap,
  stalled: RouterError | undefined,
): RouterError | undefined {
  if (end.kind === "cancelled" || tap.upstreamError !== undefined) return undefined;
  if (end.kind === "complete" && tap.done) return undefined;
  if (stalled) return stalled;
  const message =
    end.kind === "failed"
      ? "The upstream connection failed mid-stream; the answer is incomplete."
      : "The upstream ended the stream before the answer was complete.";
  return new RouterError("upstream_error", message);
}

/**
 * Answers with a non-streamed JSON read whole and judged before the router committed (DeepSeek may
 * precede it with keep-alive blank lines, already stripped, or send nothing but them, already retried).
 */
export function jsonAnswer(
  answer: { text: string; body: JsonAnswer },
  headers: Headers,
  sentAt: number,
  observers: readonly AnswerObserver[],
  endpoint: WireEndpoint = "chat",
): Response {
  const { text } = answer;
  // Encoded here only for an observer that keeps bytes (a cacheable answer's capture); otherwise the
  // runtime encodes the text as it sends it.
  const bytes = observers.some((observer) => observer.chunk) ? new TextEncoder().encode(text) : undefined;
  const read = readAnswer(answer.body, endpoint);
  const end: AnswerEnd = {
    outcome: endedOutcome(read.finishReason),
    ...read,
    firstTokenMs: performance.now() - sentAt,
  };
  for (const observer of observers) {
    if (bytes) observer.chunk?.(bytes);
    observer.end(end);
  }
  headers.set("content-type", "application/json");
  return new Response(bytes ?? text, { status: 200, headers });
}

/** Usage and finish reason of a non-streamed answer, in whichever wire format it came. */
export function readAnswer(
  body: JsonAnswer,
  endpoint: WireEndpoint,
): Pick<AnswerEnd, "usage" | "finishReason"> {
  const dialect = dialectOf(endpoint);
  if (dialect) return dialect.readJson(body);
  const finishReason = body.choices?.[0]?.finish_reason;
  return {
    usage: usageFromWire(body.usage),
    finishReason: typeof finishReason === "string" ? finishReason : undefined,
  };
}
