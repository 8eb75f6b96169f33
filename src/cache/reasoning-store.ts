/**
 * Where the router keeps the reasoning of thinking-mode answers that called tools, so it can put it back
 * when a client sends those tool calls without it (deepseek-api.md §3.4). Keyed by tenant and tool-call
 * id, so one tenant's reasoning can never reach another; bounded in time (a KV TTL and the same expiry in
 * the isolate's copy) and in size (answers with longer reasoning are not kept; the isolate keeps a bounded,
 * least-recently-used set). KV holds it across isolates; the isolate's copy makes the next turn, which
 * usually lands on the same isolate, free of I/O.
 */

/** How long reasoning is kept: an agent's tool calls come back within minutes. KV's minimum TTL is 60 s. */
export const REASONING_TTL_SECONDS = 3_600;
/** Longer reasoning is not kept (the fallback then applies); DeepSeek's longest thinking fits well under. */
export const MAX_REASONING_CHARS = 1_048_576;
const ISOLATE_MAX_CHARS = 16 * 1_048_576;
/**
 * KV reads per request, for the most recent tool calls the isolate does not hold: a conversation of
 * thousands of calls would otherwise cost a read each (and past the subrequest limit, fail). Older
 * calls get the empty reasoning DeepSeek accepts.
 */
export const MAX_KV_READS = 64;
/** Tool-call ids DeepSeek issues are `call_00_<24 base62>`; anything far longer is not a key worth trusting. */
const TOOL_CALL_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

interface Kept {
  reasoning: string;
  until: number;
}

/** The isolate's copies, in recency order; bounded by total characters. */
const isolate = new Map<string, Kept>();
let isolateChars = 0;

export function reasoningKvKey(tenant: string, toolCallId: string): string {
  return `reasoning:${tenant}:${toolCallId}`;
}

export class ReasoningStore {
  constructor(
    private readonly kv: KVNamespace,
    private readonly now: () => number = Date.now,
  ) {}

  /** The reasoning behind each id that is still held; ids not held are absent from the map. */
  async get(tenant: string, toolCallIds: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const missing: string[] = [];
    for (const id of new Set(toolCallIds)) {
      if (!TOOL_CALL_ID.test(id)) continue;
      const kept = fromIsolate(reasoningKvKey(tenant, id), this.now());
      if (kept !== undefined) found.set(id, kept);
      else missing.push(id);
    }
    const wanted = missing.slice(-MAX_KV_READS);
    const read = await Promise.all(
      wanted.map((id) => this.kv.get(reasoningKvKey(tenant, id)).catch(() => null)),
    );
    wanted.forEach((id, index) => {
      const reasoning = read[index];
      if (typeof reasoning === "string") found.set(id, reasoning);
    });
    return found;
  }

  /** Keeps `reasoning` under each tool-call id of the answer; returns the KV writes, for waitUntil. */
  put(tenant: string, toolCallIds: readonly string[], reasoning: string): Promise<unknown> {
    if (reasoning.length > MAX_REASONING_CHARS) return Promise.resolve();
    const ids = [...new Set(toolCallIds)].filter((id) => TOOL_CALL_ID.test(id));
    const until = this.now() + REASONING_TTL_SECONDS * 1000;
    for (const id of ids) toIsolate(reasoningKvKey(tenant, id), { reasoning, until });
    return Promise.all(
      ids.map((id) =>
        this.kv.put(reasoningKvKey(tenant, id), reasoning, { expirationTtl: REASONING_TTL_SECONDS }),
      ),
    );
  }
}

function fromIsolate(key: string, now: number): string | undefined {
  const kept = isolate.get(key);
  if (!kept) return undefined;
  isolate.delete(key);
  if (now >= kept.until) {
    isolateChars -= kept.reasoning.length;
    return undefined;
  }
  isolate.set(key, kept);
  return kept.reasoning;
}

function toIsolate(key: string, kept: Kept): void {
  const old = isolate.get(key);
  if (old) isolateChars -= old.reasoning.length;
  isolate.delete(key);
  isolate.set(key, kept);
  isolateChars += kept.reasoning.length;
  for (const [oldest, slot] of isolate) {
    if (isolateChars <= ISOLATE_MAX_CHARS) break;
    isolate.delete(oldest);
    isolateChars -= slot.reasoning.length;
  }
}
