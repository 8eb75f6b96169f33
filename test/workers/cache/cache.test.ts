import { afterEach, describe, expect, it, vi } from "vitest";
import { GLOBEX_KEY } from "../../fixtures/tenants";
import { callWithUpstream, chatBody, createSim, errorOf, readSse } from "../helpers";
import { sha256Hex, storedFrom, uniquePrompt } from "./support";

const CHAT = "/v1/chat/completions";

function deterministic(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return chatBody({ temperature: 0, messages: [{ role: "user", content: uniquePrompt() }], ...overrides });
}

const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

describe("hit, miss, bypass and refresh", () => {
  it("a repeat of a deterministic request is a hit: no upstream call, $0, saved cost and age reported", async () => {
    const sim = await createSim();
    const body = deterministic({ stream: true });
    const miss = await sim.call(CHAT, { json: body });
    expect(miss.headers.get("x-router-cache")).toBe("MISS");
    const original = await miss.text();
    await storedFrom(miss);

    const hit = await sim.call(CHAT, { json: body });
    expect(hit.status).toBe(200);
    expect(hit.headers.get("x-router-cache")).toBe("HIT");
    expect(hit.headers.get("x-router-cache-key")).toBe(miss.headers.get("x-router-cache-key"));
    expect(hit.headers.get("x-router-cost-usd")).toBe("0");
    expect(Number(hit.headers.get("x-router-saved-usd"))).toBeGreaterThan(0);
    expect(Number(hit.headers.get("age"))).toBeGreaterThanOrEqual(0);
    expect(hit.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(await hit.text()).toBe(original);
    expect((await sim.stats()).requests).toBe(1);
  });

  it("a non-deterministic request bypasses the cache unless the caller opts in", async () => {
    const sim = await createSim();
    const body = chatBody({ messages: [{ role: "user", content: uniquePrompt() }] });
    for (let i = 0; i < 2; i++) {
      const response = await sim.call(CHAT, { json: body });
      expect(response.headers.get("x-router-cache")).toBe("BYPASS");
      expect(response.headers.get("x-router-cache-key")).toBeNull();
      await response.text();
    }
    expect((await sim.stats()).requests).toBe(2);

    const optIn = { ...body, temperature: 1.3 };
    const first = await sim.call(CHAT, { json: optIn, headers: { "x-router-cache": "on" } });
    expect(first.headers.get("x-router-cache")).toBe("MISS");
    await first.text();
    const second = await sim.call(CHAT, { json: optIn, headers: { "x-router-cache": "on" } });
    expect(second.headers.get("x-router-cache")).toBe("HIT");
    expect((await sim.stats()).requests).toBe(3);
  });

  it("no-store and x-router-cache: off neither read nor write; a bad header value is a 400", async () => {
    const sim = await createSim();
    const body = deterministic();
    await (await sim.call(CHAT, { json: body })).text();
    const optOuts: Array<Record<string, string>> = [
      { "cache-control": "no-store" },
      { "x-router-cache": "off" },
    ];
    for (const headers of optOuts) {
      const response = await sim.call(CHAT, { json: body, headers });
      expect(response.headers.get("x-router-cache")).toBe("BYPASS");
      await response.text();
    }
    const fresh = deterministic();
    await (await sim.call(CHAT, { json: fresh, headers: { "cache-control": "no-store" } })).text();
    expect((await sim.call(CHAT, { json: fresh })).headers.get("x-router-cache")).toBe("MISS");
    expect((await sim.stats()).requests).toBe(5);

    const bad = await sim.call(CHAT, { json: body, headers: { "x-router-cache": "maybe" } });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).param).toBe("x-router-cache");
  });

  it("no-cache goes upstream and replaces the entry with the new answer", async () => {
    const sim = await createSim();
    const body = deterministic();
    const first = await sim.call(CHAT, { json: body });
    const firstId = ((await first.json()) as { id: string }).id;

    const refreshed = await sim.call(CHAT, { json: body, headers: { "cache-control": "no-cache" } });
    expect(refreshed.headers.get("x-router-cache")).toBe("MISS");
    const refreshedId = ((await refreshed.json()) as { id: string }).id;
    expect(refreshedId).not.toBe(firstId);

    const hit = await sim.call(CHAT, { json: body });
    expect(hit.headers.get("x-router-cache")).toBe("HIT");
    expect(((await hit.json()) as { id: string }).id).toBe(refreshedId);
    expect((await sim.stats()).requests).toBe(2);
  });
});

describe("tenant isolation", () => {
  it("tenant B never receives tenant A's entry", async () => {
    const sim = await createSim();
    const body = deterministic();
    const acme = await sim.call(CHAT, { json: body });
    const acmeAnswer = (await acme.json()) as { id: string };
    const globex = await sim.call(CHAT, { json: body, key: GLOBEX_KEY });
    expect(globex.headers.get("x-router-cache")).toBe("MISS");
    expect(globex.headers.get("x-router-cache-key")).not.toBe(acme.headers.get("x-router-cache-key"));
    expect(((await globex.json()) as { id: string }).id).not.toBe(acmeAnswer.id);
    expect((await sim.stats()).requests).toBe(2);
  });

  it("tenants that both opt into the shared scope share entries; one that did not, does not", async () => {
    const sim = await createSim();
    const tenants = JSON.stringify([
      { id: "one", keys: [await sha256Hex("sk-one")], cacheScope: "shared" },
      { id: "two", keys: [await sha256Hex("sk-two")], cacheScope: "shared" },
      { id: "three", keys: [await sha256Hex("sk-three")] },
    ]);
    const as = (key: string) =>
      callWithUpstream(sim.baseUrl, CHAT, { json: body, key }, { ROUTER_TENANTS: tenants });
    const body = deterministic();
    const one = await as("sk-one");
    expect(one.headers.get("x-router-cache-key")).toMatch(/^shared:/);
    const oneAnswer = await one.text();
    const two = await as("sk-two");
    expect(two.headers.get("x-router-cache")).toBe("HIT");
    expect(await two.text()).toBe(oneAnswer);
    const three = await as("sk-three");
    expect(three.headers.get("x-router-cache")).toBe("MISS");
    expect((await sim.stats()).requests).toBe(2);
  });
});

describe("replay fidelity", () => {
  async function missThenHit(body: Record<string, unknown>) {
    const sim = await createSim();
    const miss = await sim.call(CHAT, { json: body });
    const original = await readSse(miss);
    await storedFrom(miss);
    const hit = await sim.call(CHAT, { json: body });
    expect(hit.headers.get("x-router-cache")).toBe("HIT");
    const replayed = await readSse(hit);
    expect((await sim.stats()).requests).toBe(1);
    return { original, replayed };
  }

  it("a thinking stream replays chunk by chunk: ids, created, reasoning_content, content, usage", async () => {
    const { original, replayed } = await missThenHit(
      deterministic({ stream: true, thinking: { type: "enabled" } }),
    );
    expect(replayed).toEqual(original);
    const chunks = original.filter((p) => p !== "[DONE]").map((p) => JSON.parse(p));
    expect(
      chunks.some(
        (c) =>
          typeof c.choices[0]?.delta?.reasoning_content === "string" &&
          c.choices[0].delta.reasoning_content !== "",
      ),
    ).toBe(true);
    expect(
      chunks.some(
        (c) => typeof c.choices[0]?.delta?.content === "string" && c.choices[0].delta.content !== "",
      ),
    ).toBe(true);
    expect(chunks.at(-1).usage.completion_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    expect(original.at(-1)).toBe("[DONE]");
  });

  it("a tool-call stream replays chunk by chunk, tool call deltas included", async () => {
    const { original, replayed } = await missThenHit(
      deterministic({
        stream: true,
        thinking: { type: "enabled" },
        tools: [WEATHER_TOOL],
        tool_choice: "required",
      }),
    );
    expect(replayed).toEqual(original);
    const chunks = original.filter((p) => p !== "[DONE]").map((p) => JSON.parse(p));
    expect(chunks.filter((c) => c.choices[0]?.delta?.tool_calls).length).toBeGreaterThan(1);
    expect(chunks.at(-1).choices[0].finish_reason).toBe("tool_calls");
  });
});

describe("what is never cached", () => {
  it("a stream cut mid-answer", async () => {
    const sim = await createSim({ faultScript: [{ kind: "cutMidStream", afterChunks: 3 }] });
    const body = deterministic({ stream: true });
    const cut = await sim.call(CHAT, { json: body });
    const events = await readSse(cut);
    expect(JSON.parse(events.at(-1) as string).error).toBeDefined();
    const again = await sim.call(CHAT, { json: body });
    expect(again.headers.get("x-router-cache")).toBe("MISS");
    expect((await readSse(again)).at(-1)).toBe("[DONE]");
    expect((await sim.stats()).requests).toBe(2);
  });

  it("a stream with an event that is not JSON, which every replay would throw on in an SDK", async () => {
    const sim = await createSim({ faultScript: [{ kind: "malformedEvent", afterChunks: 2 }] });
    const body = deterministic({ stream: true });
    const first = await sim.call(CHAT, { json: body });
    const events = await readSse(first);
    expect(events.some((data) => data.startsWith('{"id":"broken"'))).toBe(true);
    expect(events.at(-1)).toBe("[DONE]");
    const again = await sim.call(CHAT, { json: body });
    expect(again.headers.get("x-router-cache")).toBe("MISS");
    expect((await readSse(again)).every((data) => !data.startsWith('{"id":"broken"'))).toBe(true);
    expect((await sim.stats()).requests).toBe(2);
  });

  it("an upstream error", async () => {
    const sim = await createSim();
    const body = deterministic({ max_tokens: 10_000_000 });
    const first = await sim.call(CHAT, { json: body });
    expect(first.status).toBe(400);
    const second = await sim.call(CHAT, { json: body });
    expect(second.status).toBe(400);
    expect(second.headers.get("x-router-cache")).toBe("MISS");
    expect((await sim.stats()).requests).toBe(2);
  });

  it("an answer cut for insufficient_system_resource", async () => {
    const sim = await createSim({ faultScript: [{ kind: "insufficientResource", afterTokens: 2 }] });
    const body = deterministic();
    const first = (await (await sim.call(CHAT, { json: body })).json()) as {
      choices: Array<{ finish_reason: string }>;
    };
    expect(first.choices[0]?.finish_reason).toBe("insufficient_system_resource");
    const second = await sim.call(CHAT, { json: body });
    expect(second.headers.get("x-router-cache")).toBe("MISS");
    expect((await sim.stats()).requests).toBe(2);
  });

  it("an answer over the policy's size limit", async () => {
    const sim = await createSim();
    const policy = JSON.stringify({
      pools: {
        flash: {
          provider: "deepseek",
          targets: [{ name: "sim", baseUrl: sim.baseUrl, keySecret: "DEEPSEEK_API_KEY" }],
          models: { "deepseek-v4-flash": "deepseek-v4-flash" },
          capabilities: ["tools", "json", "thinking"],
          concurrency: 10,
        },
      },
      routes: { chat: ["flash"], code: ["flash"], reasoning: ["flash"] },
      cache: { maxEntryBytes: 64 },
    });
    const body = deterministic();
    for (let i = 0; i < 2; i++) {
      const response = await callWithUpstream(sim.baseUrl, CHAT, { json: body }, { ROUTER_POLICY: policy });
      expect(response.headers.get("x-router-cache")).toBe("MISS");
      await response.text();
    }
    expect((await sim.stats()).requests).toBe(2);
  });
});

describe("answers from a fallback step", () => {
  it("are not stored under the key of the step the request was planned for", async () => {
    const sim = await createSim({ faultScript: [{ kind: "status", status: 503 }] });
    const target = { name: "sim", baseUrl: sim.baseUrl, keySecret: "DEEPSEEK_API_KEY" };
    const policy = JSON.stringify({
      pools: {
        primary: {
          provider: "deepseek",
          targets: [target],
          models: { "deepseek-v4-flash": "deepseek-v4-flash" },
          capabilities: ["tools", "json", "thinking"],
          concurrency: 10,
          retries: { max: 0 },
        },
        elsewhere: {
          provider: "deepseek",
          targets: [target],
          models: { "deepseek-v4-flash": "deepseek-v4-pro" },
          capabilities: ["tools", "json", "thinking"],
          concurrency: 10,
        },
      },
      routes: { chat: ["primary", "elsewhere"], code: ["primary"], reasoning: ["primary"] },
    });
    const body = deterministic();
    const call = () => callWithUpstream(sim.baseUrl, CHAT, { json: body }, { ROUTER_POLICY: policy });
    const fallback = await call();
    expect(fallback.headers.get("x-router-pool")).toBe("elsewhere");
    await fallback.text();
    const primary = await call();
    expect(primary.headers.get("x-router-cache")).toBe("MISS");
    expect(primary.headers.get("x-router-pool")).toBe("primary");
    await primary.text();
    expect((await call()).headers.get("x-router-cache")).toBe("HIT");
    expect((await sim.stats()).requests).toBe(3);
  });
});

describe("TTL", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("an entry past its TTL is a miss, even where KV or the L1 still hold it", async () => {
    const sim = await createSim();
    const body = deterministic();
    const first = await sim.call(CHAT, { json: body, headers: { "cache-control": "max-age=60" } });
    await first.text();
    const hit = await sim.call(CHAT, { json: body });
    expect(hit.headers.get("x-router-cache")).toBe("HIT");

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 61_000);
    const expired = await sim.call(CHAT, { json: body });
    expect(expired.headers.get("x-router-cache")).toBe("MISS");
    await expired.text();
    expect((await sim.stats()).requests).toBe(2);
  });

  it("a request's max-age also bounds the age of the entry it accepts", async () => {
    const sim = await createSim();
    const body = deterministic();
    await (await sim.call(CHAT, { json: body })).text();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 120_000);
    const young = await sim.call(CHAT, { json: body, headers: { "cache-control": "max-age=60" } });
    expect(young.headers.get("x-router-cache")).toBe("MISS");
    await young.text();
    const any = await sim.call(CHAT, { json: body });
    expect(any.headers.get("x-router-cache")).toBe("HIT");
    expect(Number(any.headers.get("age"))).toBeLessThan(60);
  });
});

describe("cross-serving between streamed and non-streamed", () => {
  it("a non-streamed request is served from a streamed entry, assembled as the upstream would answer it", async () => {
    const sim = await createSim();
    const body = deterministic({
      thinking: { type: "enabled" },
      tools: [WEATHER_TOOL],
      tool_choice: "required",
    });
    const streamed = await sim.call(CHAT, { json: { ...body, stream: true } });
    const chunks = (await readSse(streamed)).filter((p) => p !== "[DONE]").map((p) => JSON.parse(p));
    await storedFrom(streamed);

    const hit = await sim.call(CHAT, { json: body });
    expect(hit.headers.get("x-router-cache")).toBe("HIT");
    expect(hit.headers.get("content-type")).toBe("application/json");
    const assembled = (await hit.json()) as Record<string, unknown>;
    const direct = (await (
      await sim.direct(CHAT, { method: "POST", body: JSON.stringify(body) })
    ).json()) as Record<string, unknown>;
    expect(assembled.id).toBe(chunks[0].id);
    expect(assembled.created).toBe(chunks[0].created);
    expect(assembled.object).toBe("chat.completion");
    // Everything but the tool call's id (random per request) matches what the upstream answers unstreamed.
    const streamedCallId = chunks.find((c) => c.choices[0]?.delta?.tool_calls)?.choices[0].delta.tool_calls[0]
      .id;
    const directChoices = direct.choices as Array<{ message: { tool_calls: Array<{ id: string }> } }>;
    for (const call of directChoices[0]?.message.tool_calls ?? []) call.id = streamedCallId;
    expect(assembled.choices).toEqual(directChoices);
    expect(assembled.usage).toEqual(chunks.at(-1).usage);
    expect(Object.keys(assembled)).toEqual(Object.keys(direct));
  });

  it("a streamed request is served from a non-streamed entry as a faithful chunk sequence", async () => {
    const sim = await createSim();
    const body = deterministic({ thinking: { type: "enabled" } });
    const json = (await (await sim.call(CHAT, { json: body })).json()) as {
      id: string;
      choices: Array<{ message: { content: string; reasoning_content: string }; finish_reason: string }>;
      usage: unknown;
    };
    const hit = await sim.call(CHAT, { json: { ...body, stream: true } });
    expect(hit.headers.get("x-router-cache")).toBe("HIT");
    const events = await readSse(hit);
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((p) => JSON.parse(p));
    expect(chunks.every((c) => c.id === json.id && c.object === "chat.completion.chunk")).toBe(true);
    const content = chunks.map((c) => c.choices[0].delta.content ?? "").join("");
    const reasoning = chunks.map((c) => c.choices[0].delta.reasoning_content ?? "").join("");
    expect(content).toBe(json.choices[0]?.message.content);
    expect(reasoning).toBe(json.choices[0]?.message.reasoning_content);
    expect(chunks.at(-1).choices[0].finish_reason).toBe(json.choices[0]?.finish_reason);
    expect(chunks.at(-1).usage).toEqual(json.usage);
    expect((await sim.stats()).requests).toBe(1);
  });

  it("FIM completions are cached and cross-served too", async () => {
    const sim = await createSim();
    const body = {
      model: "deepseek-v4-flash",
      prompt: `def ${uniquePrompt("f").replace(/\W/g, "_")}(x):`,
      temperature: 0,
    };
    const streamed = await sim.call("/beta/completions", { json: { ...body, stream: true } });
    const text = (await readSse(streamed))
      .filter((p) => p !== "[DONE]")
      .map((p) => JSON.parse(p).choices[0].text)
      .join("");
    await storedFrom(streamed);
    const hit = await sim.call("/beta/completions", { json: body });
    expect(hit.headers.get("x-router-cache")).toBe("HIT");
    const json = (await hit.json()) as { object: string; choices: Array<{ text: string }> };
    expect(json.object).toBe("text_completion");
    expect(json.choices[0]?.text).toBe(text);
    expect((await sim.stats()).requests).toBe(1);
  });
});
