import { describe, expect, it } from "vitest";
import type { FaultSpec } from "../../../sim/options";
import { chatBody, chunks, eventually, fastSim, parseSse, post, readAll } from "./helpers";

const streamBody = chatBody({ stream: true });

function scripted(script: FaultSpec[], extra: Record<string, unknown> = {}) {
  return fastSim({ faultScript: script, queueKeepAliveMs: 10, ...extra });
}

describe("status faults", () => {
  it("answers scripted statuses with DeepSeek's bodies, in order, then serves normally", async () => {
    const sim = scripted([
      { kind: "status", status: 503 },
      { kind: "status", status: 500 },
      { kind: "status", status: 429 },
      { kind: "status", status: 502 },
      { kind: "status", status: 504 },
      { kind: "none" },
    ]);
    const errors = [];
    for (let i = 0; i < 5; i++) {
      const res = await post(sim, "/chat/completions", chatBody());
      errors.push({ status: res.status, type: res.headers.get("content-type"), body: await res.text() });
    }
    expect(errors.map((e) => e.status)).toEqual([503, 500, 429, 502, 504]);
    expect(JSON.parse(errors[0]?.body ?? "")).toMatchObject({
      error: { type: "service_unavailable_error", code: "service_unavailable_error" },
    });
    expect(JSON.parse(errors[1]?.body ?? "")).toEqual({
      error: {
        message: "Internal Server Error",
        type: "internal_error",
        param: null,
        code: "internal_error",
      },
    });
    expect(JSON.parse(errors[2]?.body ?? "")).toMatchObject({ error: { type: "rate_limit_error" } });
    expect(errors[3]?.type).toBe("text/html");
    expect(errors[3]?.body).toContain("502 Bad Gateway");
    expect(errors[4]?.body).toContain("504 Gateway Time-out");
    expect((await post(sim, "/chat/completions", chatBody())).status).toBe(200);
    expect(sim.options().faultScript).toEqual([]);
    expect((await post(sim, "/chat/completions", chatBody())).status).toBe(200);
    expect(sim.stats().faults).toEqual({
      "status:503": 1,
      "status:500": 1,
      "status:429": 1,
      "status:502": 1,
      "status:504": 1,
    });
    expect(sim.stats().inFlight).toBe(0);
  });

  it("does not consume the script on requests that fail validation", async () => {
    const sim = scripted([{ kind: "status", status: 503 }]);
    expect((await post(sim, "/chat/completions", chatBody({ model: "nope" }))).status).toBe(400);
    expect((await post(sim, "/chat/completions", chatBody())).status).toBe(503);
  });

  it("draws faults from seeded rates, reproducibly", async () => {
    const run = async () => {
      const sim = fastSim({ seed: 42, faults: { statusRates: { "503": 0.3, "500": 0.2 } } });
      const statuses = [];
      for (let i = 0; i < 30; i++) statuses.push((await post(sim, "/chat/completions", chatBody())).status);
      return statuses;
    };
    const a = await run();
    expect(await run()).toEqual(a);
    expect(a.filter((s) => s === 503).length).toBeGreaterThan(3);
    expect(a.filter((s) => s === 500).length).toBeGreaterThan(1);
    expect(a.filter((s) => s === 200).length).toBeGreaterThan(8);
    const all = fastSim({ faults: { statusRates: { "429": 1 } } });
    expect((await post(all, "/chat/completions", chatBody())).status).toBe(429);
  });
});

describe("body faults", () => {
  it("cuts the connection after the given number of chunks", async () => {
    const sim = scripted([{ kind: "cutMidStream", afterChunks: 3 }, { kind: "cutMidStream" }]);
    const cut = await readAll(await post(sim, "/chat/completions", streamBody));
    expect(cut.error).toBeDefined();
    expect(parseSse(cut.text).events).toHaveLength(3);
    const nonStream = await readAll(await post(sim, "/chat/completions", chatBody()));
    expect(nonStream.error).toBeDefined();
    expect(() => JSON.parse(nonStream.text)).toThrow();
    expect(sim.stats()).toMatchObject({
      interrupted: 2,
      completed: 0,
      inFlight: 0,
      faults: { cutMidStream: 2 },
    });
  });

  it("stalls mid-stream: no finish_reason, no [DONE], keep-alives, then closes after stallMs", async () => {
    const sim = scripted([{ kind: "stallMidStream", afterChunks: 4, ms: 60 }]);
    const res = await readAll(await post(sim, "/chat/completions", streamBody));
    expect(res.error).toBeUndefined();
    const parsed = parseSse(res.text);
    expect(parsed.events).toHaveLength(4);
    expect(parsed.done).toBe(false);
    expect(parsed.comments.length).toBeGreaterThan(0);
    expect(chunks(res.text).every((c) => c.choices[0]?.finish_reason === null)).toBe(true);
    expect(sim.stats()).toMatchObject({ interrupted: 1, faults: { stallMidStream: 1 } });
  });

  it("stalls before the first token, silently when keep-alives are off, until the client gives up", async () => {
    const sim = scripted([{ kind: "stallBeforeFirstToken", keepAlive: false }]);
    const ac = new AbortController();
    const res = await post(sim, "/chat/completions", streamBody, { signal: ac.signal });
    expect(res.status).toBe(200);
    const reading = readAll(res);
    setTimeout(() => ac.abort(), 50);
    const got = await reading;
    expect(got.text).toBe("");
    await eventually(() => sim.stats().aborted === 1);
    expect(sim.stats().inFlight).toBe(0);
  });

  it("sends a 200 whose body is only newlines (or keep-alive comments when streaming)", async () => {
    const sim = scripted([
      { kind: "blankBody", lines: 4 },
      { kind: "blankBody", lines: 2 },
    ]);
    const blank = await post(sim, "/chat/completions", chatBody());
    expect(blank.status).toBe(200);
    expect(await blank.text()).toBe("\n\n\n\n");
    const stream = await post(sim, "/chat/completions", streamBody);
    expect(await stream.text()).toBe(": keep-alive\n\n: keep-alive\n\n");
    expect(sim.stats()).toMatchObject({
      interrupted: 2,
      faults: { blankBody: 2 },
      inFlight: 0,
      peakInFlight: 0,
    });
  });

  it("ends with finish_reason insufficient_system_resource", async () => {
    const sim = scripted([
      { kind: "insufficientResource", afterTokens: 5 },
      { kind: "insufficientResource" },
    ]);
    const res = (await (await post(sim, "/chat/completions", chatBody())).json()) as {
      choices: Array<{ finish_reason: string }>;
      usage: { completion_tokens: number };
    };
    expect(res.choices[0]?.finish_reason).toBe("insufficient_system_resource");
    expect(res.usage.completion_tokens).toBe(5);
    const streamed = chunks(await (await post(sim, "/chat/completions", streamBody)).text());
    expect(streamed.at(-1)?.choices[0]?.finish_reason).toBe("insufficient_system_resource");
    expect(sim.stats().completed).toBe(2);
  });

  it("gives one request its own timing with a slow fault", async () => {
    const sim = scripted([{ kind: "slow", ttftMs: 80 }]);
    const started = Date.now();
    await (await post(sim, "/chat/completions", chatBody())).text();
    expect(Date.now() - started).toBeGreaterThanOrEqual(70);
  });

  it("replaces the script through configure and restores it on reset", async () => {
    const sim = scripted([{ kind: "status", status: 500 }]);
    sim.configure({ faultScript: [{ kind: "status", status: 502 }] });
    expect((await post(sim, "/chat/completions", chatBody())).status).toBe(502);
    sim.reset();
    expect(sim.options().faultScript).toEqual([{ kind: "status", status: 500 }]);
    expect(sim.stats().requests).toBe(0);
    expect((await post(sim, "/chat/completions", chatBody())).status).toBe(500);
  });
});
