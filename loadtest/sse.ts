/** One parsed SSE event: a comment line (`: keep-alive`) or a data event (its `data:` lines joined). */
type SseEvent = { kind: "comment"; text: string } | { kind: "data"; data: string };

/**
 * Incremental SSE framing (WHATWG rules restricted to what LLM APIs send): lines end in LF, CRLF or
 * CR; `data:` lines accumulate until a blank line dispatches them; `:` lines are comments; other
 * fields (`event`, `id`, `retry`) are ignored.
 */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private pendingCr = false;

  push(text: string): SseEvent[] {
    let input = text;
    if (this.pendingCr && input.startsWith("\n")) input = input.slice(1);
    this.pendingCr = false;
    this.buffer += input;
    const events: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // A CR at the very end may be the first half of a CRLF split across reads.
      if (m[0] === "\r" && m.index === this.buffer.length - 1) this.pendingCr = true;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      this.line(line, events);
    }
    return events;
  }

  /** Dispatches a final event left without its blank line (a server that closed mid-frame). */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.buffer.length > 0) this.line(this.buffer, events);
    this.buffer = "";
    this.line("", events);
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === "") {
      if (this.data.length > 0) events.push({ kind: "data", data: this.data.join("\n") });
      this.data = [];
      return;
    }
    if (line.startsWith(":")) {
      events.push({ kind: "comment", text: line.slice(1).trim() });
      return;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    if (field !== "data") return;
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    this.data.push(value);
  }
}

interface StreamUsage {
  promptTokens?: number;
  completionTokens?: number;
  reasoningTokens?: number;
  cacheHitTokens?: number;
}

interface StreamError {
  message: string;
  type?: string;
  code?: string;
}

/** What one stream did, with times in ms measured from the caller's `startMs`. */
interface StreamStats {
  firstByteMs?: number;
  /** First data event carrying a token: content, reasoning_content, text or a tool-call delta. */
  ttftMs?: number;
  lastTokenMs?: number;
  endMs: number;
  /** Time between consecutive token-bearing events. */
  gapsMs: number[];
  dataEvents: number;
  tokenEvents: number;
  keepAlives: number;
  bytes: number;
  done: boolean;
  finishReason?: string;
  usage?: StreamUsage;
  /** An in-stream `{"error":…}` event. */
  error?: StreamError;
  /** Ended without `[DONE]` and without an error event. */
  truncated: boolean;
  /** Data events that were not JSON. */
  parseErrors: number;
  /** The body failed while being read (reset, abort). */
  readError?: string;
}

interface ReadStreamOptions {
  /** The instant latency is measured from: the scheduled send time in an open-loop run. */
  startMs: number;
  now(): number;
}

/** Reads an SSE body to its end, timing every event. Never throws: failures land in the stats. */
export async function readSseStream(
  body: ReadableStream<Uint8Array> | null,
  options: ReadStreamOptions,
): Promise<StreamStats> {
  const stats: StreamStats = {
    endMs: 0,
    gapsMs: [],
    dataEvents: 0,
    tokenEvents: 0,
    keepAlives: 0,
    bytes: 0,
    done: false,
    truncated: false,
    parseErrors: 0,
  };
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const since = () => options.now() - options.startMs;
  if (body) {
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const at = since();
        stats.firstByteMs ??= at;
        stats.bytes += value.byteLength;
        for (const event of parser.push(decoder.decode(value, { stream: true })))
          applyEvent(stats, event, at);
      }
      const at = since();
      for (const event of parser.push(decoder.decode())) applyEvent(stats, event, at);
      for (const event of parser.end()) applyEvent(stats, event, at);
    } catch (err) {
      stats.readError = err instanceof Error ? err.message : String(err);
      await reader.cancel().catch(() => undefined);
    }
  }
  stats.endMs = since();
  stats.truncated = !stats.done && stats.error === undefined;
  return stats;
}

/** Output tokens per second while decoding: tokens after the first over the time from first to last. */
export function decodeTokensPerSecond(stats: StreamStats): number | undefined {
  const tokens = stats.usage?.completionTokens ?? stats.tokenEvents;
  if (stats.ttftMs === undefined || stats.lastTokenMs === undefined || tokens < 2) return undefined;
  const span = stats.lastTokenMs - stats.ttftMs;
  return span > 0 ? ((tokens - 1) * 1000) / span : undefined;
}

function applyEvent(stats: StreamStats, event: SseEvent, at: number): void {
  if (event.kind === "comment") {
    stats.keepAlives += 1;
    return;
  }
  stats.dataEvents += 1;
  if (event.data.trim() === "[DONE]") {
    stats.done = true;
    return;
  }
  let chunk: unknown;
  try {
    chunk = JSON.parse(event.data);
  } catch {
    stats.parseErrors += 1;
    return;
  }
  if (!isRecord(chunk)) return;
  if (isRecord(chunk.error)) {
    stats.error = toStreamError(chunk.error);
    return;
  }
  const named = typeof chunk.type === "string" ? surfaceEvent(chunk as { type: string }) : undefined;
  if (named === "done") stats.done = true;
  if (named === "error") stats.error = toStreamError(chunk);
  if (named !== undefined && named !== "token") return;
  if (isRecord(chunk.usage)) stats.usage = toUsage(chunk.usage);
  const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
  for (const choice of choices) {
    if (isRecord(choice) && typeof choice.finish_reason === "string")
      stats.finishReason = choice.finish_reason;
  }
  if (named !== "token" && !choices.some(carriesToken)) return;
  stats.tokenEvents += 1;
  if (stats.ttftMs === undefined) stats.ttftMs = at;
  else if (stats.lastTokenMs !== undefined) stats.gapsMs.push(at - stats.lastTokenMs);
  stats.lastTokenMs = at;
}

/**
 * The Anthropic Messages and Responses streams name their events in a `type` field: their final event
 * stands for `[DONE]`, and only deltas carry output. (Chat-completions chunks have no `type`.)
 */
function surfaceEvent(event: { type: string; delta?: unknown }): "done" | "error" | "token" | "other" {
  const { type, delta } = event;
  if (type === "message_stop" || type === "response.completed" || type === "response.incomplete")
    return "done";
  if (type === "error" || type === "response.failed") return "error";
  if (type === "content_block_delta" && isRecord(delta))
    return nonEmpty(delta.text) || nonEmpty(delta.thinking) || nonEmpty(delta.partial_json)
      ? "token"
      : "other";
  if (type.startsWith("response.") && type.endsWith(".delta")) return nonEmpty(delta) ? "token" : "other";
  return "other";
}

/** The role chunk (`content: ""`) and the finish chunk carry no token; keep-alives are not data. */
function carriesToken(choice: unknown): boolean {
  if (!isRecord(choice)) return false;
  if (nonEmpty(choice.text)) return true;
  const delta = choice.delta;
  if (!isRecord(delta)) return false;
  return (
    nonEmpty(delta.content) ||
    nonEmpty(delta.reasoning_content) ||
    (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0)
  );
}

function toUsage(u: Record<string, unknown>): StreamUsage {
  const details = isRecord(u.completion_tokens_details) ? u.completion_tokens_details : {};
  return {
    promptTokens: num(u.prompt_tokens),
    completionTokens: num(u.completion_tokens),
    reasoningTokens: num(details.reasoning_tokens),
    cacheHitTokens: num(u.prompt_cache_hit_tokens),
  };
}

function toStreamError(e: Record<string, unknown>): StreamError {
  return {
    message: typeof e.message === "string" ? e.message : "stream error",
    type: typeof e.type === "string" ? e.type : undefined,
    code: typeof e.code === "string" ? e.code : undefined,
  };
}

function nonEmpty(v: unknown): boolean {
  return typeof v === "string" && v.length > 0;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
