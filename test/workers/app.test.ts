import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";

describe("the app", () => {
  // One route beside a fixed segment at the same place (`/x/:id` and `/x/literal`) puts the whole app
  // on Hono's TrieRouter, about 5% more CPU per small answer: routes/requests.ts shows the way round it.
  it("matches its routes with Hono's RegExpRouter", async () => {
    const app = createApp();
    expect((await app.request("/healthz", {}, env, createExecutionContext())).status).toBe(200);
    expect((app as unknown as { router: { name: string } }).router.name).toBe("SmartRouter + RegExpRouter");
  });
});
