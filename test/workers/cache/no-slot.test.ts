import { describe, expect, it } from "vitest";
import { chatBody, createSim, singlePoolPolicy } from "../helpers";

describe("a cache hit and the concurrency limit", () => {
  it("is served while the pool's only slot is taken, where a miss is shed", async () => {
    const sim = await createSim({ tokensPerS: 20 });
    const env = { ROUTER_POLICY: singlePoolPolicy(sim.baseUrl, { concurrency: 1 }) };
    const cached = chatBody({
      temperature: 0,
      messages: [{ role: "user", content: `cache slot ${sim.baseUrl}` }],
    });

    await sim.configure({ tokensPerS: 0 });
    const first = await sim.call("/v1/chat/completions", { json: cached }, env);
    expect(first.headers.get("x-router-cache")).toBe("MISS");
    await first.text();
    await sim.configure({ tokensPerS: 20 });

    const holder = await sim.call("/v1/chat/completions", { json: chatBody({ stream: true }) }, env);
    const reader = holder.body!.getReader();
    await reader.read();

    const miss = await sim.call(
      "/v1/chat/completions",
      {
        json: chatBody({ messages: [{ role: "user", content: "not cached" }] }),
        headers: { "x-router-max-wait-ms": "0" },
      },
      env,
    );
    expect(miss.status).toBe(429);
    await miss.text();

    const hit = await sim.call(
      "/v1/chat/completions",
      { json: cached, headers: { "x-router-max-wait-ms": "0" } },
      env,
    );
    expect(hit.status).toBe(200);
    expect(hit.headers.get("x-router-cache")).toBe("HIT");
    await hit.text();
    await reader.cancel();
  });
});
