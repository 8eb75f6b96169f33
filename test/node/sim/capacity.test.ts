import { describe, expect, it } from "vitest";
import { AUTH, chatBody, eventually, fastSim, parseSse, post, readAll } from "./helpers";

const OTHER = { ...AUTH, authorization: "Bearer sk-other0000000000000000000000000000" };
const held = chatBody({ stream: true });

describe("concurrency (reject429)", () => {
  it("rejects beyond the per-key limit with DeepSeek's message, counts peakInFlight", async () => {
    const sim = fastSim({ concurrency: 2, ttftMs: 10_000 });
    const a = await post(sim, "/chat/completions", held);
    const b = await post(sim, "/chat/completions", held);
    expect(sim.stats().inFlight).toBe(2);
    const c = await post(sim, "/chat/completions", chatBody());
    expect(c.status).toBe(429);
    expect(c.headers.get("retry-after")).toBeNull();
    expect(await c.json()).toEqual({
      error: {
        message:
          "Too many requests. Your current concurrency is 3, which exceeds your concurrency limit of 2 based on your remaining balance. Please top up your balance to restore your concurrency.",
        type: "rate_limit_error",
        param: null,
        code: "invalid_request_error",
      },
    });
    const other = await post(sim, "/chat/completions", held, { headers: OTHER });
    expect(other.status).toBe(200);
    await Promise.all([a, b, other].map((r) => r.body?.cancel()));
    await eventually(() => sim.stats().inFlight === 0);
    const s = sim.stats();
    expect(s).toMatchObject({ rejected429: 1, peakInFlight: 3, aborted: 3, completed: 0 });
    expect(s.byStatus).toEqual({ "200": 3, "429": 1 });
    expect((await post(sim, "/chat/completions", held)).status).toBe(200);
  });

  it("frees the slot when the request signal aborts", async () => {
    const sim = fastSim({ concurrency: 1, ttftMs: 10_000 });
    const ac = new AbortController();
    const res = await post(sim, "/chat/completions", chatBody(), { signal: ac.signal });
    expect(res.status).toBe(200);
    expect(sim.stats().inFlight).toBe(1);
    ac.abort();
    await eventually(() => sim.stats().inFlight === 0);
    expect(sim.stats().aborted).toBe(1);
  });

  it("sends 503 Service is too busy in reject503 mode, with Retry-After when enabled", async () => {
    const sim = fastSim({
      concurrency: 1,
      ttftMs: 10_000,
      overload: "reject503",
      retryAfter: true,
      retryAfterSeconds: 7,
    });
    const a = await post(sim, "/chat/completions", held);
    const b = await post(sim, "/chat/completions", held);
    expect(b.status).toBe(503);
    expect(b.headers.get("retry-after")).toBe("7");
    expect(((await b.json()) as { error: { message: string; type: string } }).error).toMatchObject({
      message:
        "Service is too busy. We advise users to temporarily switch to alternative LLM API service providers.",
      type: "service_unavailable_error",
    });
    expect(sim.stats().rejected503).toBe(1);
    await a.body?.cancel();
  });
});

describe("concurrency (queue)", () => {
  it("keeps a queued stream alive with comments, then serves it when a slot frees", async () => {
    const sim = fastSim({ concurrency: 1, overload: "queue", queueKeepAliveMs: 15 });
    sim.configure({ faultScript: [{ kind: "slow", ttftMs: 10_000 }] });
    const first = await post(sim, "/chat/completions", held);
    const second = await post(sim, "/chat/completions", held);
    expect(second.status).toBe(200);
    const reader = second.body?.getReader();
    const chunk = await reader?.read();
    expect(new TextDecoder().decode(chunk?.value)).toBe(": keep-alive\n\n");
    expect(sim.stats()).toMatchObject({ queued: 1, queuedNow: 1, inFlight: 1 });
    await first.body?.cancel();
    let rest = "";
    for (;;) {
      const r = await reader?.read();
      if (!r || r.done) break;
      rest += new TextDecoder().decode(r.value);
    }
    const parsed = parseSse(rest);
    expect(parsed.done).toBe(true);
    expect(parsed.events.length).toBeGreaterThan(3);
    expect(sim.stats()).toMatchObject({ completed: 1, aborted: 1, queuedNow: 0, inFlight: 0 });
  });

  it("closes a queued non-stream request after queueTimeoutMs with a 200 body of only newlines", async () => {
    const sim = fastSim({
      concurrency: 1,
      overload: "queue",
      queueKeepAliveMs: 10,
      queueTimeoutMs: 80,
      ttftMs: 10_000,
    });
    const holder = await post(sim, "/chat/completions", held);
    const res = await post(sim, "/chat/completions", chatBody());
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = await res.text();
    expect(body).toMatch(/^\n+$/);
    const stream = await post(sim, "/chat/completions", held);
    const text = await stream.text();
    expect(parseSse(text)).toMatchObject({ events: [], done: false });
    expect(parseSse(text).comments.length).toBeGreaterThan(0);
    expect(sim.stats()).toMatchObject({ queueTimeouts: 2, interrupted: 2, queued: 2 });
    await holder.body?.cancel();
  });

  it("counts a client leaving the queue as aborted and admits waiters when the limit is raised", async () => {
    const sim = fastSim({ concurrency: 1, overload: "queue", queueKeepAliveMs: 10, ttftMs: 10_000 });
    const holder = await post(sim, "/chat/completions", held);
    const leaving = await post(sim, "/chat/completions", held);
    const staying = await post(sim, "/chat/completions", chatBody({ stream: true }));
    expect(sim.stats().queuedNow).toBe(2);
    await leaving.body?.cancel();
    await eventually(() => sim.stats().queuedNow === 1);
    expect(sim.stats().aborted).toBe(1);
    sim.configure({ concurrency: 2, ttftMs: 0 });
    await eventually(() => sim.stats().inFlight === 2);
    await Promise.all([holder.body?.cancel(), staying.body?.cancel()]);
    await eventually(() => sim.stats().inFlight === 0);
  });

  it("holds the slot until a non-stream response has been fully generated", async () => {
    const sim = fastSim({ concurrency: 1, tokensPerS: 500, minAnswerTokens: 50, maxAnswerTokens: 50 });
    const pending = post(sim, "/chat/completions", chatBody({ thinking: { type: "disabled" } })).then(
      readAll,
    );
    await eventually(() => sim.stats().inFlight === 1);
    expect((await post(sim, "/chat/completions", chatBody())).status).toBe(429);
    const done = await pending;
    expect(JSON.parse(done.text)).toMatchObject({ object: "chat.completion" });
    expect(sim.stats().inFlight).toBe(0);
  });
});
