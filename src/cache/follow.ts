import type { AnswerEnd, Finished } from "../answer";
import { RouterError } from "../errors";
import { errorEvent, type WireEndpoint } from "../surfaces";
import { replayJson, replaySse, type StoredAnswer, ssePayloads } from "../surfaces/replay";
import { sseResponse } from "../upstream/sse";
import type { Usage } from "../usage";
import type { Flight, ServedBy } from "./flight";

interface FollowOptions {
  endpoint: WireEndpoint;
  /** The follower's classified model, for accounting a failure before any answer. */
  model: string;
  /** The follower's own request streams. */
  stream: boolean;
  /** The follower's decision headers. */
  headers: Headers;
  signal: AbortSignal;
  totalAt: number;
  priceSaving(model: string, usage: Usage | undefined): number;
  /** Once, when the follower's answer has ended (or failed). */
  onEnd(finished: Finished): void;
}

/**
 * Answers a request from an identical one in flight. A streaming follower of a streaming leader gets
 * the leader's bytes as they are produced (everything so far first, if it joined late); any other
 * pairing waits for the whole answer and converts it. Returns "lead" when the leader's own client left,
 * or its answer broke off mid-way, before this follower was sent anything: the follower then competes
 * to lead a new attempt instead of failing, as it would retry alone.
 */
export async function follow(flight: Flight, o: FollowOptions): Promise<Response | "lead"> {
  while (flight.state.phase === "pending") await waitForChange(flight, o);
  const state = flight.state;
  if (state.phase === "failed") {
    if (state.error === "abandoned") return "lead";
    o.onEnd({
      model: o.model,
      status: state.error.status,
      outcome: "rejected",
      reachedUpstream: false,
      cache: "COALESCED",
    });
    throw sharedFailure(state.error, o.headers);
  }
  const headers = followerHeaders(o.headers, state.servedBy);
  // Reading from here: a leader whose own client leaves keeps the upstream answering for this request.
  const stopReading = flight.read();
  if (o.stream && state.kind === "stream")
    return streamAlong(flight, state.servedBy, headers, o, stopReading);

  try {
    while (flight.state.phase === "answering") await waitForChange(flight, o);
  } finally {
    stopReading();
  }
  const ended = flight.state;
  // Nothing was sent to this follower yet: an answer that was cut or failed mid-way (a streaming leader
  // could not retry it once committed) is tried again, as this request alone would be.
  if (ended.phase !== "ended" || ended.end.outcome !== "complete") return "lead";
  const answer = sharedAnswer(flight, ended.kind, o.endpoint);
  const saved = o.priceSaving(ended.servedBy.model, ended.end.usage);
  headers.set("x-router-saved-usd", saved.toFixed(8));
  o.onEnd(finished(ended.servedBy, ended.end, 200, saved));
  if (o.stream) return sseResponse(replaySse(answer), headers);
  headers.set("content-type", "application/json");
  return new Response(replayJson(answer), { status: 200, headers });
}

function streamAlong(
  flight: Flight,
  servedBy: ServedBy,
  headers: Headers,
  o: FollowOptions,
  stopReading: () => void,
): Response {
  let cursor = 0;
  let done = false;
  const end = (outcome: AnswerEnd["outcome"], answerEnd?: AnswerEnd) => {
    if (done) return;
    done = true;
    stopReading();
    const saved = outcome === "complete" ? o.priceSaving(servedBy.model, answerEnd?.usage) : 0;
    o.onEnd(finished(servedBy, { ...answerEnd, outcome }, 200, saved));
  };
  o.signal.addEventListener("abort", () => end("cancelled"), { once: true });
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          const chunk = flight.chunks[cursor];
          if (chunk) {
            cursor++;
            // Each follower gets its own copy: a body the runtime has sent may be detached.
            controller.enqueue(chunk.slice());
            return;
          }
          const state = flight.state;
          if (state.phase === "ended") {
            // Accounted before the close: once the response is complete, workerd drops new I/O. A leader's
            // cancel (its client left while no follower was reading) cut this answer: a failure.
            end(state.end.outcome === "cancelled" ? "failed" : state.end.outcome, state.end);
            if (state.end.outcome !== "complete")
              controller.enqueue(errorEvent(interrupted(state.end.outcome), o.endpoint, sent(flight)));
            controller.close();
            return;
          }
          const remaining = o.totalAt - Date.now();
          const change =
            remaining > 0 ? await flight.changed(remaining, o.signal).catch(() => "aborted") : "timeout";
          if (change === "aborted") {
            end("cancelled");
            controller.close();
            return;
          }
          if (change === "timeout") {
            end("failed");
            controller.enqueue(errorEvent(deadline(), o.endpoint, sent(flight)));
            controller.close();
            return;
          }
        }
      },
      cancel() {
        end("cancelled");
      },
    },
    { highWaterMark: 0 },
  );
  return sseResponse(body, headers);
}

async function waitForChange(flight: Flight, o: FollowOptions): Promise<void> {
  const remaining = o.totalAt - Date.now();
  const change = remaining > 0 ? await flight.changed(remaining, o.signal).catch(() => "aborted") : "timeout";
  if (change === "aborted") {
    o.onEnd({
      model: o.model,
      status: 499,
      outcome: "cancelled",
      reachedUpstream: false,
      cache: "COALESCED",
    });
    throw o.signal.reason ?? new RouterError("upstream_error", "The client went away.");
  }
  if (change === "timeout") {
    o.onEnd({ model: o.model, status: 504, outcome: "rejected", reachedUpstream: false, cache: "COALESCED" });
    throw deadline().withHeaders(o.headers);
  }
}

function sharedAnswer(flight: Flight, kind: "stream" | "json", endpoint: WireEndpoint): StoredAnswer {
  const decoder = new TextDecoder();
  let text = "";
  for (const chunk of flight.chunks) text += decoder.decode(chunk, { stream: true });
  text += decoder.decode();
  return kind === "stream"
    ? { endpoint, kind, events: ssePayloads(text) }
    : { endpoint, kind, json: text.trim() };
}

/** The data events a streaming follower has been sent: all the flight's, since it sends each as it comes. */
function sent(flight: Flight): number {
  const decoder = new TextDecoder();
  return ssePayloads(flight.chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("")).length;
}

function followerHeaders(own: Headers, servedBy: ServedBy): Headers {
  const headers = new Headers(own);
  headers.set("x-router-cache", "COALESCED");
  headers.set("x-router-model", servedBy.model);
  headers.set("x-router-pool", servedBy.pool);
  headers.set("x-router-target", servedBy.target);
  if (servedBy.degraded) headers.set("x-router-degraded", servedBy.degraded);
  headers.set("x-router-cost-usd", "0");
  headers.set("age", "0");
  return headers;
}

function finished(servedBy: ServedBy, end: Partial<AnswerEnd>, status: number, savedUsd: number): Finished {
  return {
    model: servedBy.model,
    pool: servedBy.pool,
    status,
    outcome: end.outcome ?? "failed",
    finishReason: end.finishReason,
    reachedUpstream: false,
    cache: "COALESCED",
    savedUsd,
    upstreamMs: 0,
  };
}

/** The leader's failure, told to a follower with the follower's own headers (and the leader's Retry-After). */
function sharedFailure(error: RouterError, headers: Headers): RouterError {
  const copy = new RouterError(error.code, error.message, {
    status: error.status,
    type: error.type,
    param: error.param,
  });
  const retryAfter = error.headers["retry-after"];
  if (retryAfter) copy.withHeaders({ "retry-after": retryAfter });
  return copy.withHeaders(headers).withHeaders({ "x-router-cache": "COALESCED" });
}

function interrupted(outcome: AnswerEnd["outcome"]): RouterError {
  const why =
    outcome === "cancelled"
      ? "The identical request this answer was shared with was cancelled, which stopped the upstream; retry."
      : "The upstream answer ended before it was complete.";
  return new RouterError("upstream_error", why);
}

function deadline(): RouterError {
  return new RouterError(
    "deadline_exceeded",
    "The identical request this one joined did not answer before the deadline.",
  );
}
