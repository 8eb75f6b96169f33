import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callWithUpstream } from "./helpers";

describe("the workers test pool's network", () => {
  it("reaches the simulator", async () => {
    const response = await fetch(`${env.DEEPSEEK_BASE_URL}/v1/models`, {
      headers: { authorization: `Bearer ${env.DEEPSEEK_API_KEY}` },
    });
    expect(response.status).toBe(200);
  });

  it.each(["https://api.deepseek.com/v1/models", "http://example.com/", "http://127.0.0.1:9/"])(
    "refuses %s, so a test cannot reach the internet or another server",
    async (url) => {
      await expect(fetch(url)).rejects.toThrow(/refused/);
    },
  );

  it("refuses the Worker's own upstream calls to any other host: the caller gets an upstream error", async () => {
    const response = await callWithUpstream("https://api.deepseek.com", "/v1/chat/completions", {
      json: { model: "deepseek-v4-flash", messages: [{ role: "user", content: "hi" }] },
    });
    expect(response.status).toBeGreaterThanOrEqual(502);
  });
});
