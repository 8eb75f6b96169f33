import { describe, expect, it } from "vitest";
import { chatBody, createSim, singlePoolPolicy } from "../helpers";

/**
 * A kept chat stream answers 200 at once, so a refusal of its call (here: the pool is full and the
 * caller may not wait) reaches the client in-band: with the refusal's own error type, as a plain
 * stream's in-band error has, so the SDKs and clients can tell a shed from an upstream failure.
 */
describe("a resumable chat stream refused before its first event", () => {
  it("tells the refusal in-band with its own type and code", async () => {
    const sim = await createSim({ ttftMs: 0, tokensPerS: 20, minAnswerTokens: 60, maxAnswerTokens: 60 });
    const policy = singlePoolPolicy(sim.baseUrl, {
      concurrency: 1,
      admission: { leaseBlocks: false, adaptive: false },
    });
    const vars = { ROUTER_POLICY: policy };
    const holder = await sim.call("/v1/chat/completions", { json: chatBody({ stream: true }) }, vars);
    const reader = (holder.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();

    const refused = await sim.call(
      "/v1/chat/completions",
      {
        json: chatBody({ stream: true }),
        headers: { "x-router-resumable": "on", "x-router-max-wait-ms": "0" },
      },
      vars,
    );
    const text = await refused.text();
    const data = /^data: (.*)$/m.exec(text)?.[1] ?? "";
    expect(JSON.parse(data)).toEqual({
      error: expect.objectContaining({ type: "rate_limit_error", code: "pool_saturated" }),
    });
    await reader.cancel();
  });
});
