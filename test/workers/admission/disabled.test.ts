import { describe, expect, it } from "vitest";
import { chatBody, createSim, singlePoolPolicy } from "../helpers";

describe("a pool with admission turned off", () => {
  it("sends past the ceiling without queueing or shedding, and holds no lease", async () => {
    const sim = await createSim({ tokensPerS: 50 });
    const policy = singlePoolPolicy(sim.baseUrl, { concurrency: 1, admission: { enabled: false } });
    const streams = await Promise.all(
      [1, 2, 3].map((i) =>
        sim.call(
          "/v1/chat/completions",
          {
            json: chatBody({ stream: true, messages: [{ role: "user", content: `no gate ${i}` }] }),
            headers: { "x-router-max-wait-ms": "0" },
          },
          { ROUTER_POLICY: policy },
        ),
      ),
    );
    expect(streams.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(streams.map((r) => r.headers.get("x-router-queue-ms"))).toEqual(["0", "0", "0"]);
    await Promise.all(streams.map((r) => r.text()));
    expect((await sim.stats()).peakInFlight).toBe(3);
  });
});
