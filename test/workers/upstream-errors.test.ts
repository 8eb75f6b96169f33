import { describe, expect, it } from "vitest";
import { callWithUpstream, chatBody, createSim, errorOf, readSse } from "./helpers";

describe("upstream errors reach the caller in the DeepSeek envelope", () => {
  it("relays DeepSeek's own validation message for the caller's mistake", async () => {
    const sim = await createSim();
    const response = await sim.call("/v1/chat/completions", { json: chatBody({ max_tokens: 10_000_000 }) });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.message).toMatch(/^Invalid max_tokens value, the valid range of max_tokens is \[1, \d+\]$/);
    expect(error.type).toBe("invalid_request_error");
    expect(response.headers.get("x-router-model")).toBe("deepseek-v4-flash");
  });

  it("relays a 422 from an older era unchanged", async () => {
    const sim = await createSim({ era: "legacy" });
    const response = await sim.call("/v1/chat/completions", {
      json: {
        model: "deepseek-v4-flash",
        messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
      },
    });
    // The router serves current model names only; the legacy upstream does not know them.
    expect([400, 422]).toContain(response.status);
    expect((await errorOf(response)).message.length).toBeGreaterThan(0);
  });

  it("turns an upstream 401 into a 502 that leaks nothing of the upstream key", async () => {
    const sim = await createSim({ apiKeys: ["sk-some-other-key-00000000000000"] });
    const response = await sim.call("/v1/chat/completions", { json: chatBody() });
    expect(response.status).toBe(502);
    const text = await response.text();
    expect(text).toContain("upstream_auth");
    expect(text).not.toMatch(/\*{4}|0000|sk-/);
  });

  it("turns an upstream 402 into a 503", async () => {
    const sim = await createSim({ balance: 0 });
    const response = await sim.call("/v1/chat/completions", { json: chatBody() });
    expect(response.status).toBe(503);
    expect(await response.text()).not.toContain("Insufficient Balance");
  });

  it.each([
    [429, 429, "rate_limit_error"],
    [500, 502, "upstream_error"],
    [502, 502, "upstream_error"],
    [503, 503, "service_unavailable_error"],
    [504, 502, "upstream_error"],
  ])("maps an upstream %i to %i (%s)", async (upstreamStatus, status, type) => {
    // Every attempt fails, so the caller sees the upstream's status after the router's retries.
    const sim = await createSim({ faults: { statusRates: { [String(upstreamStatus)]: 1 } } });
    const response = await sim.call("/v1/chat/completions", { json: chatBody() });
    expect(response.status).toBe(status);
    const error = await errorOf(response);
    expect(error.type).toBe(type);
    if (status === 429 || status === 503) {
      // DeepSeek sends no Retry-After: the router names a wait, so SDKs back off rather than guess.
      expect(response.headers.get("retry-after")).toBe("1");
      // The upstream's words are about the operator's account, not this caller.
      expect(error.message).not.toMatch(/balance/i);
    }
  });

  it("502s when the upstream cannot be reached", async () => {
    const response = await callWithUpstream("http://127.0.0.1:9", "/v1/chat/completions", {
      json: chatBody(),
    });
    expect(response.status).toBe(502);
    expect((await errorOf(response)).code).toBe("upstream_error");
  });

  it("502s a 200 whose body is only keep-alive newlines, every time", async () => {
    const sim = await createSim({ faults: { blankBodyRate: 1 } });
    const response = await sim.call("/v1/chat/completions", { json: chatBody() });
    expect(response.status).toBe(502);
    expect((await errorOf(response)).message).toContain("without an answer");
  });
});

describe("a stream that fails after the first byte", () => {
  it("ends with an SSE error event, not a silent truncation", async () => {
    const sim = await createSim({ faultScript: [{ kind: "cutMidStream", afterChunks: 3 }] });
    const response = await sim.call("/v1/chat/completions", { json: chatBody({ stream: true }) });
    expect(response.status).toBe(200);
    const events = await readSse(response);
    expect(events).not.toContain("[DONE]");
    const last = JSON.parse(events.at(-1) ?? "{}");
    expect(last.error.type).toBe("upstream_error");
    expect(last.error.message).toContain("incomplete");
  });
});
