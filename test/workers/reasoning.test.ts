import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_KV_READS, ReasoningStore, reasoningKvKey } from "../../src/cache/reasoning-store";
import { ACME_KEY, GLOBEX_KEY } from "../fixtures/tenants";
import { createSim, errorOf, eventually, readSse, type SimInstance } from "./helpers";

const CHAT = "/v1/chat/completions";
const REFUSAL = "The `reasoning_content` in the thinking mode must be passed back to the API.";

const WEATHER = {
  type: "function",
  function: {
    name: "weather",
    description: "Current weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

const ask = { role: "user", content: "What is the weather in Paris? Use weather." };

/** Turn one, streamed through the router: the thinking-mode answer that calls the tool. */
async function firstTurn(
  sim: SimInstance,
  key = ACME_KEY,
): Promise<{ reasoning: string; calls: ToolCall[] }> {
  const response = await sim.call(CHAT, {
    key,
    json: { model: "deepseek-v4-flash", messages: [ask], tools: [WEATHER], stream: true },
  });
  expect(response.status).toBe(200);
  let reasoning = "";
  const calls: ToolCall[] = [];
  for (const event of await readSse(response)) {
    if (event === "[DONE]") continue;
    const delta = (JSON.parse(event) as { choices: Array<{ delta: Record<string, unknown> }> }).choices[0]
      ?.delta;
    if (typeof delta?.reasoning_content === "string") reasoning += delta.reasoning_content;
    for (const call of (delta?.tool_calls as Array<ToolCall & { index: number }> | undefined) ?? []) {
      if (call.id)
        calls.push({ id: call.id, type: "function", function: { name: call.function.name, arguments: "" } });
      const last = calls.at(-1);
      if (last) last.function.arguments += call.function.arguments;
    }
  }
  expect(reasoning.length).toBeGreaterThan(0);
  expect(calls.length).toBeGreaterThan(0);
  return { reasoning, calls };
}

/** Turn two as an OpenAI-shaped client sends it: the assistant turn without its reasoning_content. */
function secondTurn(calls: ToolCall[]): Record<string, unknown> {
  return {
    model: "deepseek-v4-flash",
    tools: [WEATHER],
    messages: [
      ask,
      { role: "assistant", content: "", tool_calls: calls },
      ...calls.map((call) => ({ role: "tool", tool_call_id: call.id, content: "18C, cloudy" })),
    ],
  };
}

async function sentAssistant(sim: SimInstance): Promise<{ reasoning_content?: string }> {
  const body = (await sim.stats()).recent.at(-1)?.body as { messages: Array<{ role: string }> };
  return body.messages.find((message) => message.role === "assistant") as { reasoning_content?: string };
}

async function digest(key: string): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("thinking-mode tool calls with a client that drops reasoning_content", () => {
  it("fails straight against the simulator, and succeeds through the router with the reasoning put back", async () => {
    const sim = await createSim();
    const { reasoning, calls } = await firstTurn(sim);
    const body = secondTurn(calls);

    const direct = await sim.direct("/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(direct.status).toBe(400);
    expect((await errorOf(direct)).message).toBe(REFUSAL);

    // The reasoning is written off the response path: the next turn finds it once it has landed.
    await eventually(async () => {
      const routed = await sim.call(CHAT, { json: body });
      expect(routed.status).toBe(200);
      await routed.text();
      expect((await sentAssistant(sim)).reasoning_content).toBe(reasoning);
    });
  });

  it("never crosses tenants: another tenant's identical tool-call ids get the empty fallback DeepSeek accepts", async () => {
    const sim = await createSim();
    const { calls } = await firstTurn(sim);
    const routed = await sim.call(CHAT, { key: GLOBEX_KEY, json: secondTurn(calls) });
    expect(routed.status).toBe(200);
    await routed.text();
    expect((await sentAssistant(sim)).reasoning_content).toBe("");
  });

  it("falls back to an empty reasoning_content for tool calls it never held", async () => {
    const sim = await createSim();
    const calls: ToolCall[] = [
      {
        id: "call_00_unknownToTheRouter00000",
        type: "function",
        function: { name: "weather", arguments: '{"city":"Paris"}' },
      },
    ];
    const routed = await sim.call(CHAT, { json: secondTurn(calls) });
    expect(routed.status).toBe(200);
    await routed.text();
    expect((await sentAssistant(sim)).reasoning_content).toBe("");
  });

  it("is off for a tenant that turns it off: the request goes on unchanged and DeepSeek's 400 comes back", async () => {
    const sim = await createSim();
    const tenants = JSON.stringify([
      { id: "acme", keys: [await digest(ACME_KEY)], restoreReasoning: false },
      { id: "globex", keys: [await digest(GLOBEX_KEY)] },
    ]);
    const { calls } = await firstTurn(sim);
    const routed = await sim.call(CHAT, { json: secondTurn(calls) }, { ROUTER_TENANTS: tenants });
    expect(routed.status).toBe(400);
    expect((await errorOf(routed)).message).toBe(REFUSAL);
  });

  it("keeps the reasoning of a non-streamed answer too", async () => {
    const sim = await createSim();
    const first = await sim.call(CHAT, {
      json: { model: "deepseek-v4-flash", messages: [ask], tools: [WEATHER] },
    });
    const { choices } = (await first.json()) as {
      choices: Array<{ message: { reasoning_content: string; tool_calls: ToolCall[] } }>;
    };
    const message = choices[0]?.message;
    await eventually(async () => {
      const routed = await sim.call(CHAT, { json: secondTurn(message?.tool_calls ?? []) });
      await routed.text();
      expect((await sentAssistant(sim)).reasoning_content).toBe(message?.reasoning_content);
    });
  });
});

describe("a conversation of thousands of tool calls", () => {
  it("reads at most a bounded number of them from KV, the most recent, not one read per call", async () => {
    const tenant = `t-${crypto.randomUUID()}`;
    const ids = Array.from({ length: 2_000 }, (_, i) => `call_${i}`);
    const recent = ids.slice(-3);
    for (const id of recent) await env.CACHE.put(reasoningKvKey(tenant, id), `thought about ${id}`);
    let reads = 0;
    const counted = new Proxy(env.CACHE, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (name !== "get" || typeof value !== "function") return value;
        return (...args: unknown[]) => {
          reads++;
          return Reflect.apply(value, target, args);
        };
      },
    });
    const held = await new ReasoningStore(counted).get(tenant, ids);
    expect(reads).toBe(MAX_KV_READS);
    expect([...held.keys()].sort()).toEqual([...recent].sort());
  });
});
