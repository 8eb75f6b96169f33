import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH } from "../../src/middleware/json-depth";
import { ACME_KEY, GLOBEX_KEY } from "../fixtures/tenants";
import { uniquePrompt } from "./cache/support";
import {
  callWithUpstream,
  chatBody,
  createSim,
  errorOf,
  eventually,
  readSse,
  singlePoolPolicy,
} from "./helpers";
import { limitedTenant } from "./tenancy/support";

const CHAT = "/v1/chat/completions";

/** `{"x":{"x":…}}` nested `depth` levels deep, under an unknown field the schema lets through. */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < depth; i++) value = { x: value };
  return value;
}

describe("hostile bodies", () => {
  it("a cacheable body nested 3,000 levels deep is a 400 naming the limit, not a 500", async () => {
    const sim = await createSim();
    const response = await sim.call(CHAT, { json: chatBody({ temperature: 0, extra: nested(3_000) }) });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.type).toBe("invalid_request_error");
    expect(error.message).toContain(`${MAX_JSON_DEPTH} levels`);
    expect((await sim.stats()).requests).toBe(0);
  });

  it("a body nested up to the limit is served", async () => {
    const sim = await createSim();
    // The body itself is the first level, `extra` the second.
    const response = await sim.call(CHAT, {
      json: chatBody({ temperature: 0, extra: nested(MAX_JSON_DEPTH - 1) }),
    });
    expect(response.status).toBe(200);
  });
});

describe("numeric headers take plain decimal digits only", () => {
  it.each([
    ["x-router-deadline-ms", "1e3"],
    ["x-router-deadline-ms", "0x3e8"],
    ["x-router-deadline-ms", "+1000"],
    ["x-router-deadline-ms", "1000.0"],
    ["x-router-max-wait-ms", "1e3"],
    ["x-router-max-wait-ms", "0x3e8"],
    ["x-router-max-wait-ms", "+1000"],
  ])("%s: %s is a 400 that says so", async (header, value) => {
    const sim = await createSim();
    const response = await sim.call(CHAT, { json: chatBody(), headers: { [header]: value } });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.param).toBe(header);
    expect(error.message).toContain("plain decimal");
  });

  it("plain digits are accepted", async () => {
    const sim = await createSim();
    const response = await sim.call(CHAT, {
      json: chatBody(),
      headers: { "x-router-deadline-ms": "30000", "x-router-max-wait-ms": "0" },
    });
    expect(response.status).toBe(200);
  });
});

describe("x-router-resumable takes on or off, like the other switches", () => {
  it.each(["maybe", "yes", "1"])(
    "%s is a 400 naming the header, and nothing goes upstream",
    async (value) => {
      const sim = await createSim();
      const response = await sim.call(CHAT, {
        json: chatBody({ stream: true }),
        headers: { "x-router-resumable": value },
      });
      expect(response.status).toBe(400);
      const error = await errorOf(response);
      expect(error.param).toBe("x-router-resumable");
      expect(error.message).toContain("on, off");
      expect((await sim.stats()).requests).toBe(0);
    },
  );
});

describe("the upstream key never reaches the caller", () => {
  const key = env.DEEPSEEK_API_KEY;
  const echoes = (status: 200 | 400 | 500, times = 3) =>
    Array.from({ length: times }, () => ({ kind: "echoKey", status }));

  it.each([400, 500] as const)(
    "an upstream %i that echoes the Authorization header is redacted",
    async (status) => {
      const sim = await createSim({ faultScript: echoes(status) });
      const response = await sim.call(CHAT, { json: chatBody() });
      const text = await response.text();
      expect(response.status).toBe(status === 400 ? 400 : 502);
      expect(text).not.toContain(key);
      expect(text).toContain("[redacted]");
      expect([...response.headers.values()].join(" ")).not.toContain(key);
    },
  );

  it("an error inside a 200 is an error (redacted), never an answer", async () => {
    const sim = await createSim({ faultScript: echoes(200) });
    const response = await sim.call(CHAT, { json: chatBody() });
    const text = await response.text();
    expect(response.status).toBe(502);
    expect(text).not.toContain(key);
  });

  it("a stream whose first event is an error is an error (redacted), never a silent empty answer", async () => {
    const sim = await createSim({ faultScript: echoes(200) });
    const response = await sim.call(CHAT, { json: chatBody({ stream: true }) });
    const text = await response.text();
    expect(text).not.toContain(key);
    expect(response.status).toBe(502);
    expect(JSON.parse(text).error.message).toContain("[redacted]");
  });
});

describe("an upstream error body is never shared as a success", () => {
  it("a streamed follower of a leader whose 200 held an error gets an error, not an empty [DONE]", async () => {
    const sim = await createSim({
      ttftMs: 150,
      faultScript: Array.from({ length: 3 }, () => ({ kind: "echoKey", status: 200 })),
    });
    const prompt = uniquePrompt();
    const body = (stream: boolean) =>
      chatBody({ temperature: 0, stream, messages: [{ role: "user", content: prompt }] });
    const [leader, follower] = await Promise.all([
      sim.call(CHAT, { json: body(false) }),
      new Promise<Response>((resolve) => setTimeout(() => resolve(sim.call(CHAT, { json: body(true) })), 20)),
    ]);
    expect(leader.status).toBe(502);
    const followed = await follower.text();
    expect(followed).not.toBe("data: [DONE]\n\n");
    expect(
      follower.status === 502 || (await readSse(new Response(followed))).some((e) => e.includes('"error"')),
    ).toBe(true);
    // Nothing was kept: the same request now goes upstream again.
    await sim.configure({ faultScript: [] });
    const again = await sim.call(CHAT, { json: body(false) });
    expect(again.headers.get("x-router-cache")).toBe("MISS");
  });
});

describe("a coalesced follower never inherits the leader's own limits", () => {
  it("a follower with no deadline gets its answer when the leader's own deadline passes", async () => {
    const sim = await createSim({ ttftMs: 600 });
    const body = chatBody({ temperature: 0, messages: [{ role: "user", content: uniquePrompt() }] });
    const leader = sim.call(CHAT, { json: body, headers: { "x-router-deadline-ms": "200" } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const follower = await sim.call(CHAT, { json: body });
    expect((await leader).status).toBe(504);
    expect(follower.status).toBe(200);
    expect(await follower.text()).toContain('"finish_reason"');
  });
});

async function digest(key: string): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("across tenants sharing a cache scope", () => {
  it("tenant B never gets tenant A's refusal: A's own wait ran out, B waits for its own slot", async () => {
    const sim = await createSim({ faultScript: [{ kind: "slow", ttftMs: 0, tokensPerS: 10 }] });
    const vars = {
      ROUTER_POLICY: singlePoolPolicy(sim.baseUrl, { concurrency: 1, admission: { adaptive: false } }),
      ROUTER_TENANTS: JSON.stringify([
        { id: "tenant-a", keys: [await digest(ACME_KEY)], cacheScope: "shared" },
        { id: "tenant-b", keys: [await digest(GLOBEX_KEY)], cacheScope: "shared" },
      ]),
    };
    // A stream of tenant A's holds the pool's only slot.
    const holder = await sim.call(CHAT, { json: chatBody({ stream: true }) }, vars);
    const reader = (holder.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const shared = chatBody({ temperature: 0, messages: [{ role: "user", content: uniquePrompt() }] });
    const leader = sim.call(CHAT, { json: shared, headers: { "x-router-max-wait-ms": "300" } }, vars);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const follower = sim.call(CHAT, { json: shared, key: GLOBEX_KEY }, vars);
    const refused = await leader;
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).code).toBe("queue_timeout");
    // Tenant A's wait is over; tenant B is still waiting, for itself.
    await eventually(async () => expect((await sim.stats()).requests).toBe(1));
    await reader.cancel();
    const answered = await follower;
    const text = await answered.text();
    expect(answered.status).toBe(200);
    expect(text).not.toContain("tenant-a");
  });
});

describe("hostile Responses input", () => {
  it.each([
    ["a null content part", [{ role: "user", content: [null] }]],
    ["a content part that is a number", [{ role: "user", content: [7] }]],
    ["content that is a number", [{ role: "user", content: 7 }]],
  ])("%s is a 400 naming the input, never a 500, and nothing goes upstream", async (_, input) => {
    const sim = await createSim();
    const response = await sim.call("/v1/responses", { json: { model: "deepseek-v4-flash", input } });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.type).toBe("invalid_request_error");
    expect(error.param).toBe("input");
    expect((await sim.stats()).requests).toBe(0);
  });
});

describe("a Responses input of tens of thousands of parallel tool calls", () => {
  // Each call was merged into the assistant turn by copying the calls before it: quadratic, a minute of CPU.
  it("is read in linear time: classified and answered by the router's own refusal", async () => {
    // Only the pro model is allowed: the router refuses after reading the whole input, before any upstream.
    const { key, tenants } = await limitedTenant({ models: ["deepseek-v4-pro"] });
    const input = [
      { role: "user", content: "call them all" },
      ...Array.from({ length: 110_000 }, (_, i) => ({
        type: "function_call",
        call_id: `c${i}`,
        name: "f",
        arguments: "",
      })),
    ];
    const response = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      "/v1/responses",
      { key, json: { model: "deepseek-v4-flash", input, max_output_tokens: 8 } },
      { ROUTER_TENANTS: tenants },
    );
    expect(response.status).toBe(403);
    expect((await errorOf(response)).param).toBe("model");
  });
});

describe("hostile Anthropic model names", () => {
  // Stripping Claude Code's `[1m]` suffix once took time quadratic in the name: a 1 MiB name held the CPU for minutes.
  it("a megabyte of `[1m]` suffixes is refused at once as too long a model name, and nothing goes upstream", async () => {
    const sim = await createSim();
    for (const path of ["/anthropic/v1/messages", "/anthropic/v1/messages/count_tokens"]) {
      const response = await sim.call(path, {
        json: {
          model: `${"[1m]".repeat(250_000)}x`,
          max_tokens: 8,
          messages: [{ role: "user", content: "hi" }],
        },
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { type: string; error: { type: string; message: string } };
      expect(body).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
      expect(body.error.message).toContain("model must be at most 256 characters");
    }
    expect((await sim.stats()).requests).toBe(0);
  });

  it("repeated `[1m]` suffixes on a Claude name are all dropped", async () => {
    const sim = await createSim();
    const response = await sim.call("/anthropic/v1/messages", {
      json: { model: "claude-opus-4-1[1m][1M]", max_tokens: 8, messages: [{ role: "user", content: "hi" }] },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-router-model")).toBe("deepseek-v4-pro");
  });
});
