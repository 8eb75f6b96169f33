import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminKeyDigest, LOCAL_ADMIN_KEY } from "../../../scripts/local-config";
import { type LocalStack, startLocalStackWithPolicy } from "../../../scripts/stack";
import { configureSim } from "./sim-control";

/**
 * A spent budget stops batches as it stops every other call (issue 22), through real sockets and the
 * official `openai` client: the router under workerd, the simulator on Node. The simulator answers
 * with exactly `max_tokens` tokens and the pool's prices are a flat $1 per million tokens, so a call's
 * cost is known whatever the hour: 1,000 output tokens cost $0.001, and the smallest ordinary request
 * (a short prompt and the default 600 output tokens) about $0.00062.
 */
const POOL = "budgeted";
const FLAT = { inputCacheHit: 1, inputCacheMiss: 1, output: 1 };
const policy = (simUrl: string) =>
  JSON.stringify({
    pools: {
      [POOL]: {
        provider: "deepseek",
        targets: [{ name: "deepseek", baseUrl: simUrl, keySecret: "DEEPSEEK_API_KEY" }],
        models: { "deepseek-v4-flash": "deepseek-v4-flash" },
        capabilities: ["tools", "fim", "thinking", "json"],
        concurrency: 50,
        prices: { "deepseek-v4-flash": [{ from: "2026-01-01T00:00:00Z", offPeak: FLAT }] },
      },
    },
    routes: { chat: [POOL], code: [POOL], reasoning: [POOL] },
  });

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStackWithPolicy(policy, {
    sim: { ttftMs: 0, tokensPerS: 0, minAnswerTokens: 5_000, maxAnswerTokens: 5_000 },
    vars: { ROUTER_ADMIN_KEY: adminKeyDigest() },
  });
}, 120_000);
afterAll(() => stack?.close());

/** A managed key of the local tenant with a daily dollar budget, and an openai client using it. */
async function keyWithBudget(usdPerDay: number): Promise<OpenAI> {
  const response = await fetch(`${stack.routerUrl}/admin/tenants/local/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${LOCAL_ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ name: `budget-${usdPerDay}`, limits: { usdPerDay } }),
  });
  expect(response.status).toBe(201);
  const { key } = (await response.json()) as { key: string };
  return new OpenAI({ apiKey: key, baseURL: `${stack.routerUrl}/v1`, maxRetries: 0 });
}

async function simChatRequests(): Promise<number> {
  const stats = (await (await fetch(`${stack.simUrl}/_sim/stats`)).json()) as {
    byPath: Record<string, number>;
  };
  return stats.byPath["/chat/completions"] ?? 0;
}

function line(i: number) {
  return JSON.stringify({
    custom_id: `line-${i}`,
    method: "POST",
    url: "/v1/chat/completions",
    body: {
      model: "deepseek-v4-flash",
      messages: [{ role: "user", content: `Budget line ${i}` }],
      thinking: { type: "disabled" },
      max_tokens: 1_000,
    },
  });
}

async function submit(openai: OpenAI, count: number) {
  const text = `${Array.from({ length: count }, (_, i) => line(i)).join("\n")}\n`;
  const file = await openai.files.create({
    file: new File([text], "lines.jsonl", { type: "application/jsonl" }),
    purpose: "batch",
  });
  return openai.batches.create({
    input_file_id: file.id,
    endpoint: "/v1/chat/completions",
    completion_window: "24h",
    metadata: { schedule: "now" },
  });
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("a spent budget stops batches", () => {
  it("a key whose budget is spent gets 402 on chat and on batch creation, and its balance says so", async () => {
    // One answer of 5,000 tokens ($0.005) leaves less than the smallest request needs.
    const openai = await keyWithBudget(0.0055);
    await openai.chat.completions.create({
      model: "deepseek-v4-flash",
      messages: [{ role: "user", content: "Spend it." }],
      thinking: { type: "disabled" },
      max_tokens: 5_000,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    await expect(
      openai.chat.completions.create({
        model: "deepseek-v4-flash",
        messages: [{ role: "user", content: "More." }],
      }),
    ).rejects.toMatchObject({ status: 402, code: "budget_exhausted" });

    const balance = (await (
      await fetch(`${stack.routerUrl}/user/balance`, {
        headers: { authorization: `Bearer ${openai.apiKey}` },
      })
    ).json()) as { is_available: boolean; balance_infos: Array<{ total_balance: string }> };
    expect(balance.is_available).toBe(false);
    expect(balance.balance_infos[0]?.total_balance).toMatch(/^\d+\.\d{2}$/);

    const sentBefore = await simChatRequests();
    const error = await submit(openai, 3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toMatchObject({ status: 402, code: "budget_exhausted" });
    expect((error as Error).message).toContain("no batch can run");
    // Not spent to the cent: what is left is said, and why it is too little.
    expect((error as Error).message).toMatch(/has \$0\.000\d+ left, less than the smallest request reserves/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await simChatRequests()).toBe(sentBefore);
  }, 60_000);

  it("a budget that runs out midway fails the remaining lines with budget_exhausted, unsent", async () => {
    // Room for one or two lines of 1,000 output tokens, never all six.
    const openai = await keyWithBudget(0.0025);
    const sentBefore = await simChatRequests();
    const created = await submit(openai, 6);
    const budget = (created as unknown as { budget: { key_id: string; on_exhausted: string } }).budget;
    expect(budget.on_exhausted).toBe("fail_unsent");
    expect(budget.key_id).toMatch(/^key_/);

    // Lines refused while others hold the budget run again 2 s later, then twice more 3 s apart.
    const batch = await until(
      () => openai.batches.retrieve(created.id),
      (b) => b.status === "completed",
      45_000,
    );
    expect(batch.status).toBe("completed");
    const { completed, failed } = batch.request_counts ?? { completed: 0, failed: 0 };
    expect(completed + failed).toBe(6);
    expect(completed).toBeGreaterThanOrEqual(1);
    expect(failed).toBeGreaterThanOrEqual(1);
    // Only the lines that completed reached the upstream.
    expect((await simChatRequests()) - sentBefore).toBe(completed);

    const errors = (await (await openai.files.content(batch.error_file_id as string)).text())
      .trim()
      .split("\n")
      .map(
        (text) =>
          JSON.parse(text) as { response: { status_code: number; body: { error: { code: string } } } },
      );
    expect(errors).toHaveLength(failed);
    for (const entry of errors) {
      expect(entry.response.status_code).toBe(402);
      expect(entry.response.body.error.code).toBe("budget_exhausted");
    }
  }, 60_000);

  it("a chat refused while another request holds the budget is a RateLimitError the SDK's retry gets past", async () => {
    // Each call reserves its max_tokens ($0.001) and spends 20 tokens: the budget holds one reservation.
    await configureSim(stack.simUrl, { ttftMs: 1_500, minAnswerTokens: 20, maxAnswerTokens: 20 });
    try {
      const openai = await keyWithBudget(0.0015);
      const ask = (client: OpenAI) =>
        client.chat.completions.create({
          model: "deepseek-v4-flash",
          messages: [{ role: "user", content: `Hold it ${crypto.randomUUID()}` }],
          thinking: { type: "disabled" },
          max_tokens: 1_000,
        } as OpenAI.ChatCompletionCreateParamsNonStreaming);
      const holding = ask(openai);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const refused = await ask(openai).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
      expect(refused).toMatchObject({ status: 429, code: "budget_reserved" });
      expect((refused as InstanceType<typeof OpenAI.APIError>).headers?.get("retry-after")).toBe("2");
      await holding;
      // Again while another call holds the budget, now with the SDK's own retries: it waits the
      // Retry-After, by when that call has given back what it did not use.
      const holdingAgain = ask(openai);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const answered = await ask(openai.withOptions({ maxRetries: 3 }));
      expect(answered.choices[0]?.finish_reason).toBe("stop");
      await holdingAgain;
    } finally {
      await configureSim(stack.simUrl, { ttftMs: 0, minAnswerTokens: 5_000, maxAnswerTokens: 5_000 });
    }
  }, 60_000);

  it("runs every line whose real spend fits, though their reservations together did not", async () => {
    // Each line reserves its max_tokens ($0.001) and is answered with 20 tokens: the budget holds two
    // lines' reservations at a time, and all six lines' spend many times over.
    await configureSim(stack.simUrl, { minAnswerTokens: 20, maxAnswerTokens: 20 });
    try {
      const openai = await keyWithBudget(0.0025);
      const created = await submit(openai, 6);
      const batch = await until(
        () => openai.batches.retrieve(created.id),
        (b) => b.status === "completed",
        45_000,
      );
      expect(batch.request_counts).toEqual({ total: 6, completed: 6, failed: 0 });
    } finally {
      await configureSim(stack.simUrl, { minAnswerTokens: 5_000, maxAnswerTokens: 5_000 });
    }
  }, 60_000);
});
