import { describe, expect, it } from "vitest";
import { ACME_KEY, GLOBEX_KEY } from "../../fixtures/tenants";
import { storedFrom, uniquePrompt } from "../cache/support";
import {
  type CallInit,
  callRouter,
  createSim,
  ledgerEntry,
  type SimInstance,
  singlePoolPolicy,
  slowFirstOneSlot,
} from "../helpers";

const MESSAGES = "/anthropic/v1/messages";

function messagesBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: "deepseek-v4-flash",
    max_tokens: 256,
    messages: [{ role: "user", content: "Say hello to the router." }],
    thinking: { type: "disabled" },
    ...overrides,
  };
}

function deterministic(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return messagesBody({
    temperature: 0,
    messages: [{ role: "user", content: uniquePrompt() }],
    ...overrides,
  });
}

/** Anthropic-style: the key in x-api-key, not Authorization. */
function anthropicCall(
  sim: SimInstance,
  init: CallInit & { apiKey?: string },
  vars: Record<string, string> = {},
) {
  const { apiKey = ACME_KEY, ...rest } = init;
  const headers = new Headers(rest.headers);
  headers.set("x-api-key", apiKey);
  headers.set("anthropic-version", "2023-06-01");
  return sim.call(MESSAGES, { ...rest, key: null, headers }, vars);
}

/** The `event:` names of an Anthropic SSE body, in order. */
function eventNames(text: string): string[] {
  return text
    .split("\n\n")
    .map((block) => /^event: (.+)$/m.exec(block)?.[1])
    .filter((name): name is string => name !== undefined);
}

describe("Anthropic Messages through the pipeline", () => {
  it("takes the router key as x-api-key and passes anthropic-version and anthropic-beta upstream, never the key", async () => {
    const sim = await createSim();
    const response = await anthropicCall(sim, {
      json: messagesBody(),
      headers: { "anthropic-beta": "files-api-2025-04-14,interleaved-thinking-2025-05-14" },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { type: string }).type).toBe("message");
    const seen = (await sim.stats()).recent.at(-1) as { authorization?: string; anthropic?: unknown };
    expect(seen.anthropic).toEqual({
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "files-api-2025-04-14,interleaved-thinking-2025-05-14",
    });
    expect(seen.authorization).not.toContain(ACME_KEY);
  });

  it("answers every error under /anthropic in Anthropic's envelope", async () => {
    const sim = await createSim();
    const missing = await sim.call(MESSAGES, { json: messagesBody(), key: null });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });

    const invalid = await anthropicCall(sim, { json: messagesBody({ max_tokens: undefined }) });
    expect(invalid.status).toBe(400);
    const body = (await invalid.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe("error");
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toContain("max_tokens");

    const unknown = await sim.call("/anthropic/v1/nothing");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
  });

  it("relays the caller's bytes untouched, and hashes a metadata.user_id DeepSeek would refuse", async () => {
    const sim = await createSim();
    const body = messagesBody({ metadata: { user_id: "plain_user-1" } });
    await (await anthropicCall(sim, { json: body })).text();
    expect((await sim.stats()).recent.at(-1)?.body).toEqual(body);

    const claudeCode = messagesBody({
      metadata: { user_id: JSON.stringify({ device_id: "d", session_id: "s" }) },
    });
    const response = await anthropicCall(sim, { json: claudeCode });
    expect(response.status).toBe(200);
    const sent = (await sim.stats()).recent.at(-1)?.body as { metadata: { user_id: string } };
    expect(sent.metadata.user_id).toMatch(/^u_[0-9a-f]{40}$/);
  });

  it("refuses clearly when the pool's provider speaks only chat completions", async () => {
    const sim = await createSim();
    const policy = singlePoolPolicy(sim.baseUrl, { provider: "openai-compatible" });
    const response = await anthropicCall(sim, { json: messagesBody() }, { ROUTER_POLICY: policy });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toContain("not translated");
    expect((await sim.stats()).requests).toBe(0);
  });

  it("retries an upstream overload before the first byte, invisibly to the caller", async () => {
    const sim = await createSim({ faultScript: [{ kind: "status", status: 503 }] });
    const response = await anthropicCall(sim, { json: messagesBody({ stream: true }) });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-router-retries")).toBe("1");
    expect(eventNames(await response.text()).at(-1)).toBe("message_stop");
    expect((await sim.stats()).requests).toBe(2);
  });

  it("tells an overload that outlasts the retries as Anthropic's 529 overloaded_error", async () => {
    const sim = await createSim({
      faultScript: Array.from({ length: 8 }, () => ({ kind: "status", status: 503 })),
    });
    const policy = singlePoolPolicy(sim.baseUrl, { retries: { max: 0 } });
    const response = await anthropicCall(sim, { json: messagesBody() }, { ROUTER_POLICY: policy });
    expect(response.status).toBe(529);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
  });

  it("plans only the pools that can relay it: a chat-only first pool is skipped for the DeepSeek one", async () => {
    const sim = await createSim();
    const pool = (provider: string) => ({
      provider,
      targets: [{ name: provider, baseUrl: sim.baseUrl, keySecret: "DEEPSEEK_API_KEY" }],
      models: { "deepseek-v4-flash": "deepseek-v4-flash" },
      capabilities: ["tools", "thinking", "json"],
      concurrency: 10,
    });
    const policy = JSON.stringify({
      pools: { "compat-first": pool("openai-compatible"), "deepseek-second": pool("deepseek") },
      routes: {
        chat: ["compat-first", "deepseek-second"],
        code: ["deepseek-second"],
        reasoning: ["compat-first", "deepseek-second"],
      },
    });
    const response = await anthropicCall(sim, { json: messagesBody() }, { ROUTER_POLICY: policy });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-router-pool")).toBe("deepseek-second");
    expect((await sim.stats()).recent.at(-1)?.path).toBe("/anthropic/v1/messages");
  });

  it("tells a mid-stream failure as an Anthropic error event", async () => {
    const sim = await createSim({ faultScript: [{ kind: "cutMidStream", afterChunks: 4 }] });
    const response = await anthropicCall(sim, { json: messagesBody({ stream: true }) });
    const text = await response.text();
    expect(eventNames(text).at(-1)).toBe("error");
    expect(text).toContain('"type":"error","error":{"type":"api_error"');
  });

  it("records usage from Anthropic's usage fields, once", async () => {
    const sim = await createSim();
    const requestId = `anthropic-ledger-${crypto.randomUUID()}`;
    const response = await anthropicCall(sim, {
      json: messagesBody({ stream: true }),
      headers: { "x-request-id": requestId },
    });
    const text = await response.text();
    const start = JSON.parse(/data: (\{"type":"message_start".*)/.exec(text)?.[1] ?? "{}") as {
      message: { usage: { input_tokens: number; cache_read_input_tokens: number } };
    };
    const delta = JSON.parse(/data: (\{"type":"message_delta".*)/.exec(text)?.[1] ?? "{}") as {
      usage: { output_tokens: number };
    };
    const entry = await ledgerEntry(requestId);
    expect(entry).toMatchObject({
      outcome: "complete",
      status: 200,
      estimated: false,
    });
    const { input_tokens, cache_read_input_tokens } = start.message.usage;
    expect(entry.usage.promptTokens).toBe(input_tokens + cache_read_input_tokens);
    expect(entry.usage.completionTokens).toBe(delta.usage.output_tokens);
    expect(entry.costUsd).toBeGreaterThan(0);
  });
});

describe("the prompt cache on the Anthropic surface", () => {
  it("replays a streamed hit byte for byte in Anthropic's event format, and answers JSON from it", async () => {
    const sim = await createSim();
    const body = deterministic({ stream: true });
    const miss = await anthropicCall(sim, { json: body });
    expect(miss.headers.get("x-router-cache")).toBe("MISS");
    const original = await miss.text();
    await storedFrom(miss);

    const hit = await anthropicCall(sim, { json: body });
    expect(hit.headers.get("x-router-cache")).toBe("HIT");
    expect(await hit.text()).toBe(original);
    expect(eventNames(original).at(-1)).toBe("message_stop");

    const json = await anthropicCall(sim, { json: { ...body, stream: false } });
    expect(json.headers.get("x-router-cache")).toBe("HIT");
    const message = (await json.json()) as { type: string; content: Array<{ type: string; text: string }> };
    expect(message.type).toBe("message");
    const streamedText = [...original.matchAll(/"text_delta","text":("(?:[^"\\]|\\.)*")/g)]
      .map((m) => JSON.parse(m[1] as string) as string)
      .join("");
    expect(message.content.find((block) => block.type === "text")?.text).toBe(streamedText);
    expect((await sim.stats()).requests).toBe(1);
  });

  it("turns a stored Message into the event stream a streaming caller expects", async () => {
    const sim = await createSim();
    const body = deterministic();
    const miss = await anthropicCall(sim, { json: body });
    const message = (await miss.json()) as { content: Array<{ text?: string }> };
    await storedFrom(miss);
    const hit = await anthropicCall(sim, { json: { ...body, stream: true } });
    const text = await hit.text();
    expect(eventNames(text)).toEqual([
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(text).toContain(JSON.stringify(message.content[0]?.text));
  });

  it("is tenant-scoped: another tenant's identical request misses", async () => {
    const sim = await createSim();
    const body = deterministic();
    const first = await anthropicCall(sim, { json: body });
    await first.text();
    await storedFrom(first);
    const other = await anthropicCall(sim, { json: body, apiKey: GLOBEX_KEY });
    expect(other.headers.get("x-router-cache")).toBe("MISS");
    await other.text();
    expect((await sim.stats()).requests).toBe(2);
  });

  it("coalesces identical streams in flight into one upstream call", async () => {
    const sim = await createSim({ ttftMs: 100, tokensPerS: 400 });
    const body = deterministic({ stream: true });
    const responses = await Promise.all(Array.from({ length: 5 }, () => anthropicCall(sim, { json: body })));
    const texts = await Promise.all(responses.map((r) => r.text()));
    expect(responses.map((r) => r.headers.get("x-router-cache")).sort()).toEqual([
      "COALESCED",
      "COALESCED",
      "COALESCED",
      "COALESCED",
      "MISS",
    ]);
    expect(new Set(texts).size).toBe(1);
    expect(eventNames(texts[0] as string).at(-1)).toBe("message_stop");
    expect((await sim.stats()).requests).toBe(1);
  });
});

describe("admission on the Anthropic surface", () => {
  it("sheds with 429 rate_limit_error and Retry-After when the pool is full", async () => {
    const { sim, policy } = await slowFirstOneSlot();
    const holder = await anthropicCall(
      sim,
      { json: messagesBody({ stream: true }) },
      { ROUTER_POLICY: policy },
    );
    const reader = (holder.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const shed = await anthropicCall(
      sim,
      { json: messagesBody(), headers: { "x-router-max-wait-ms": "0" } },
      { ROUTER_POLICY: policy },
    );
    expect(shed.status).toBe(429);
    expect(Number(shed.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await shed.json()).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    await reader.cancel();
  });
});

describe("count_tokens", () => {
  it("answers with DeepSeek's count, and says so", async () => {
    const sim = await createSim();
    const response = await sim.call("/anthropic/v1/messages/count_tokens", {
      json: { model: "deepseek-v4-flash", messages: [{ role: "user", content: "How many tokens is this?" }] },
    });
    expect(response.headers.get("x-router-token-count")).toBe("upstream");
    expect(((await response.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
    expect((await sim.stats()).recent.at(-1)?.path).toBe("/anthropic/v1/messages/count_tokens");
  });

  it("falls back to the router's estimate, marked as such, when the upstream has no count", async () => {
    const sim = await createSim();
    const policy = singlePoolPolicy(`${sim.baseUrl}/no-anthropic-here`);
    const response = await sim.call(
      "/anthropic/v1/messages/count_tokens",
      {
        json: {
          model: "deepseek-v4-flash",
          messages: [{ role: "user", content: "How many tokens is this?" }],
        },
      },
      { ROUTER_POLICY: policy },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("x-router-token-count")).toBe("estimate");
    expect(((await response.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
  });
});

describe("models", () => {
  it("answers each listed model by id as Anthropic's list has it", async () => {
    const list = (await (await callRouter("/anthropic/v1/models")).json()) as {
      data: Array<{ id: string }>;
    };
    expect(list.data.length).toBeGreaterThan(0);
    for (const model of list.data) {
      const response = await callRouter(`/anthropic/v1/models/${encodeURIComponent(model.id)}`);
      expect(response.status, model.id).toBe(200);
      expect(await response.json()).toEqual(model);
    }
  });

  it("is 404 not_found_error, in Anthropic's envelope, for a model the router does not serve", async () => {
    const response = await callRouter("/anthropic/v1/models/claude-opus-4-1");
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      type: "error",
      error: {
        type: "not_found_error",
        message: "The model 'claude-opus-4-1' does not exist or you do not have access to it.",
      },
    });
  });

  it("is 405 for POST, in Anthropic's envelope", async () => {
    const response = await callRouter("/anthropic/v1/models/deepseek-v4-flash", { method: "POST" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET");
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
  });
});
