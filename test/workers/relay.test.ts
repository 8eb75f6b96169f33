import { describe, expect, it } from "vitest";
import { chatBody, createSim, eventually } from "./helpers";

describe("client disconnects", () => {
  it("cancelling the response body aborts the upstream request and frees its slot", async () => {
    const sim = await createSim({ tokensPerS: 20, ttftMs: 0 });
    const response = await sim.call("/v1/chat/completions", { json: chatBody({ stream: true }) });
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    await reader.cancel();
    await eventually(async () => {
      const stats = await sim.stats();
      expect(stats.aborted).toBe(1);
      expect(stats.inFlight).toBe(0);
      expect(stats.completed).toBe(0);
    });
  });

  it("an aborted request signal tears the upstream down too", async () => {
    const sim = await createSim({ tokensPerS: 20 });
    const controller = new AbortController();
    const response = await sim.call("/v1/chat/completions", {
      json: chatBody({ stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await eventually(async () => {
      const stats = await sim.stats();
      expect(stats.aborted).toBe(1);
      expect(stats.inFlight).toBe(0);
    });
    await reader.cancel().catch(() => {});
  });
});
