import { startLocalStack } from "../../scripts/stack";
import { type Measurement, measureRequests } from "../lib/measure";
import { formatMs, ratio } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";

const CONCURRENCY = 4;
const ROUNDS = 3;
/** Output rate a minute of kept answer is reckoned at: a brisk DeepSeek stream. */
const TOKENS_PER_S = 50;
const LONG_ANSWER_TOKENS = 1_000;

const chat = (stream: boolean) => ({
  model: "deepseek-v4-flash",
  messages: [{ role: "user", content: `Kept-stream benchmark ${crypto.randomUUID()}` }],
  thinking: { type: "disabled" },
  stream,
});

const PATHS = {
  bare: { url: "bare", headers: {}, label: "bare Worker" },
  plain: { url: "router", headers: {}, label: "router, plain stream" },
  kept: { url: "router", headers: { "x-router-resumable": "on" }, label: "router, kept stream" },
} as const;
const PACED_TOKENS = 40;
const PACES = [
  { name: "burst", sim: { tokensPerS: 0, minAnswerTokens: 20, maxAnswerTokens: 200 } },
  {
    name: "paced",
    sim: { tokensPerS: TOKENS_PER_S, minAnswerTokens: PACED_TOKENS, maxAnswerTokens: PACED_TOKENS },
  },
] as const;
type PathName = keyof typeof PATHS;

/**
 * Issue 24: what it costs to route a stream through its owner (a Durable Object that runs the call
 * through the app in-process and writes every event to SQLite before relaying it), against the same
 * stream relayed plainly and against the bare pass-through Worker, in alternating rounds; then the
 * storage a kept answer takes, from the bytes a full replay carries.
 */
export const kept: BenchScenario = {
  name: "kept",
  title: "Kept streams: the owner's latency cost and storage per minute of answer",
  async run(ctx): Promise<BenchSection> {
    const perRound = ctx.quick ? 12 : 60;
    const stack = await startLocalStack({ sim: { ttftMs: 0, tokensPerS: 0 } });
    const urls = { bare: stack.bareUrl, router: stack.routerUrl };
    const results = new Map<string, Measurement[]>();
    let storage: { chat: number; responses: number };
    try {
      for (const pace of PACES) {
        await configureSim(stack.simUrl, pace.sim);
        for (let round = 0; round < ROUNDS; round++) {
          for (const name of Object.keys(PATHS) as PathName[]) {
            const m = await measureRequests({
              baseUrl: urls[PATHS[name].url],
              key: stack.routerKey,
              body: () => chat(true),
              headers: PATHS[name].headers,
              n: perRound,
              concurrency: CONCURRENCY,
              warmup: round === 0 ? 4 : 0,
            });
            const key = `${pace.name}:${name}`;
            results.set(key, [...(results.get(key) ?? []), m]);
            ctx.log(
              `${pace.name} round ${round + 1}/${ROUNDS} ${name}: p50 ${m.latencyMs.p50.toFixed(2)} ms, ok ${m.ok}/${m.n}`,
            );
          }
        }
      }
      await configureSim(stack.simUrl, {
        tokensPerS: 0,
        minAnswerTokens: LONG_ANSWER_TOKENS,
        maxAnswerTokens: LONG_ANSWER_TOKENS,
      });
      storage = {
        chat: await keptChatBytes(stack.routerUrl, stack.routerKey),
        responses: await keptResponseBytes(stack.routerUrl, stack.routerKey),
      };
    } finally {
      await stack.close();
    }
    const median = (key: string, pick: (m: Measurement) => number) => {
      const values = (results.get(key) ?? []).map(pick).sort((a, b) => a - b);
      return values[Math.floor(values.length / 2)] ?? Number.NaN;
    };
    const rows: Array<Record<string, string>> = [];
    const added: string[] = [];
    for (const pace of PACES) {
      const total = (name: PathName) => median(`${pace.name}:${name}`, (m) => m.latencyMs.p50);
      const first = (name: PathName) => median(`${pace.name}:${name}`, (m) => m.ttftMs.p50);
      for (const name of Object.keys(PATHS) as PathName[]) {
        const runs = results.get(`${pace.name}:${name}`) ?? [];
        rows.push({
          answer: pace.name,
          path: PATHS[name].label,
          "TTFT p50": formatMs(first(name)),
          "total p50": formatMs(total(name)),
          "÷ bare": ratio(total(name), total("bare")).toFixed(2),
          "÷ plain": ratio(total(name), total("plain")).toFixed(2),
          ok: `${runs.reduce((s, m) => s + m.ok, 0)}/${runs.reduce((s, m) => s + m.n, 0)}`,
        });
      }
      added.push(
        `${pace.name}: +${formatMs(first("kept") - first("plain"))} to the first token, +${formatMs(total("kept") - total("plain"))} to the whole answer`,
      );
    }
    const perMinute = (bytes: number) => (bytes / LONG_ANSWER_TOKENS) * TOKENS_PER_S * 60;
    return {
      title: kept.title,
      notes: [
        `${ROUNDS} alternating rounds × ${perRound} chat streams per path and answer kind, ${CONCURRENCY} in flight, p50 the median of the rounds' p50s. "burst": the simulator sends a ~20-200-token answer at once (the paths' own cost, per event); "paced": ${PACED_TOKENS} tokens at ${TOKENS_PER_S} tokens/s, as a real stream arrives.`,
        `A kept stream against a plain one at p50 — ${added.join("; ")}. The owner's costs: the start (the tenant's quota check and the owner's RPC), then per event one SQLite write whose output gate holds the event until it is durable, and the RPC stream back; a burst pays them event by event, a paced stream hides them between tokens.`,
        `Storage: a ${LONG_ANSWER_TOKENS}-token answer keeps ${storage.chat.toFixed(0)} bytes as a chat stream and ${storage.responses.toFixed(0)} bytes as a Responses stream (event data; SQLite's own overhead not counted): ${(storage.chat / LONG_ANSWER_TOKENS).toFixed(0)} and ${(storage.responses / LONG_ANSWER_TOKENS).toFixed(0)} bytes per token, so a minute of answer at ${TOKENS_PER_S} tokens/s is about ${(perMinute(storage.chat) / 1024).toFixed(0)} KiB (chat) and ${(perMinute(storage.responses) / 1024).toFixed(0)} KiB (Responses).`,
      ],
      columns: ["answer", "path", "TTFT p50", "total p50", "÷ bare", "÷ plain", "ok"],
      rows,
    };
  },
};

async function configureSim(simUrl: string, patch: Record<string, unknown>): Promise<void> {
  await fetch(`${simUrl}/_sim/config`, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(patch),
  });
}

/** Data bytes of one kept chat answer, read back whole from its resume endpoint. */
async function keptChatBytes(routerUrl: string, key: string): Promise<number> {
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const started = await fetch(`${routerUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { ...headers, "x-router-resumable": "on" },
    body: JSON.stringify(chat(true)),
  });
  await started.text();
  const id = started.headers.get("x-router-stream-id");
  const replay = await (await fetch(`${routerUrl}/v1/chat/completions/${id}/stream`, { headers })).text();
  return dataBytes(replay);
}

/** Data bytes of one background Response, read back whole with `stream=true`. */
async function keptResponseBytes(routerUrl: string, key: string): Promise<number> {
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const created = (await (
    await fetch(`${routerUrl}/v1/responses`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        model: "deepseek-v4-flash",
        input: "A long answer",
        reasoning: { effort: "none" },
        background: true,
      }),
    })
  ).json()) as { id: string };
  for (let i = 0; i < 200; i++) {
    const now = (await (await fetch(`${routerUrl}/v1/responses/${created.id}`, { headers })).json()) as {
      status: string;
    };
    if (now.status !== "queued" && now.status !== "in_progress") break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const replay = await (
    await fetch(`${routerUrl}/v1/responses/${created.id}?stream=true`, { headers })
  ).text();
  return dataBytes(replay);
}

function dataBytes(sse: string): number {
  return sse
    .split("\n")
    .filter((line) => line.startsWith("data: "))
    .reduce((sum, line) => sum + line.length - 6, 0);
}
