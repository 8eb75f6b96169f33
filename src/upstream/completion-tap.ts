import type { StreamSoFar } from "../answer";
import type { EventReader } from "../surfaces";
import { type Usage, usageFromWire } from "../usage";
import { SseParser } from "./sse";

/**
 * Watches a completion stream on the side and remembers what the router must know when it ends:
 * usage, finish reason, whether `[DONE]` arrived, an in-band error, and when the first token came.
 */
export class CompletionTap implements StreamSoFar {
  usage: Usage | undefined;
  finishReason: string | undefined;
  done = false;
  upstreamError: unknown;
  firstTokenAt: number | undefined;
  /** Data events seen (keep-alive comments excluded). */
  chunks = 0;
  /** Events that carried output; DeepSeek streams about one token per event. */
  tokenChunks = 0;
  private readonly parser: SseParser;

  /**
   * `onEvent` sees each data payload after the tap has read it: the one parse of the stream. `reader`
   * reads another surface's events (Anthropic, Responses); chat and FIM are read here.
   */
  constructor(
    private readonly clock: () => number = () => performance.now(),
    private readonly onEvent?: (payload: string, soFar: StreamSoFar) => void,
    private readonly reader?: EventReader,
  ) {
    this.parser = new SseParser({
      data: (payload) => {
        this.read(payload);
        this.onEvent?.(payload, this);
      },
      skipped: (count) => {
        this.chunks += count;
        this.tokenChunks += count;
      },
    });
  }

  /**
   * Reads the next bytes. Once the first token is in, a chat stream nobody watches event by event is
   * only skimmed: its middle events are counted (each as a token: past the first, a DeepSeek delta
   * carries one), and only a batch holding usage, a finish reason, an error or `[DONE]` is parsed.
   */
  push(bytes: Uint8Array): void {
    if (this.onEvent || this.reader || this.firstTokenAt === undefined) this.parser.push(bytes);
    else this.parser.skim(bytes, mustRead);
  }

  end(): void {
    this.parser.end();
  }

  private read(payload: string): void {
    if (payload === "[DONE]") {
      this.done = true;
      return;
    }
    this.chunks++;
    if (this.reader) {
      const reading = this.reader.read(payload);
      if (reading.usage) this.usage = reading.usage;
      if (reading.finishReason) this.finishReason = reading.finishReason;
      if (reading.done) this.done = true;
      if (reading.error !== undefined) this.upstreamError = reading.error;
      if (reading.token) this.sawToken();
      return;
    }
    const quick = quickScan(payload);
    if (quick !== undefined) {
      if (quick) this.sawToken();
      return;
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(payload);
    } catch {
      return;
    }
    if (typeof chunk !== "object" || chunk === null) return;
    const record = chunk as { usage?: unknown; error?: unknown; choices?: unknown };
    if (record.error !== undefined) this.upstreamError = record.error;
    const usage = usageFromWire(record.usage);
    if (usage) this.usage = usage;
    if (!Array.isArray(record.choices)) return;
    for (const choice of record.choices as Array<Record<string, unknown>>) {
      if (typeof choice.finish_reason === "string") this.finishReason = choice.finish_reason;
      if (carriesToken(choice)) this.sawToken();
    }
  }

  private sawToken(): void {
    this.tokenChunks++;
    if (this.firstTokenAt === undefined) this.firstTokenAt = this.clock();
  }
}

/** Text that holds an event the tap must parse rather than count. */
function mustRead(text: string): boolean {
  return (
    text.includes('"usage":{') ||
    text.includes('"finish_reason":"') ||
    text.includes('"error"') ||
    text.includes("[DONE]")
  );
}

/**
 * Most events are one compact delta of content: whether it carries a token can be read off the text
 * without parsing it. Returns undefined when the event needs a real parse: it may carry usage, a
 * finish reason or an error, or it is not in the compact form this scan understands.
 */
function quickScan(payload: string): boolean | undefined {
  if (payload.includes('"usage":{') || payload.includes('"finish_reason":"') || payload.includes('"error"')) {
    return undefined;
  }
  if (!payload.includes('"delta":{')) return undefined;
  return (
    nonEmptyString(payload, '"content":"') ||
    nonEmptyString(payload, '"reasoning_content":"') ||
    payload.includes('"tool_calls":[')
  );
}

function nonEmptyString(payload: string, key: string): boolean {
  const at = payload.indexOf(key);
  return at !== -1 && payload.charCodeAt(at + key.length) !== 34;
}

/** A token is real output: content, reasoning, FIM text or a tool call, not the empty role chunk. */
function carriesToken(choice: Record<string, unknown>): boolean {
  if (typeof choice.text === "string" && choice.text !== "") return true;
  const delta = choice.delta as Record<string, unknown> | undefined;
  if (!delta) return false;
  return (
    (typeof delta.content === "string" && delta.content !== "") ||
    (typeof delta.reasoning_content === "string" && delta.reasoning_content !== "") ||
    Array.isArray(delta.tool_calls)
  );
}
