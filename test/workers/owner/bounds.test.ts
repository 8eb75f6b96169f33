import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import OpenAI, { type APIError } from "openai";
import { describe, expect, it } from "vitest";
import type { StreamOwner } from "../../../src/index";
import { GLOBEX_KEY } from "../../fixtures/tenants";
import { createSim, eventually, ledgerEntry } from "../helpers";
import { clientWith, untilDone } from "./support";

const MODEL = "deepseek-v4-flash";
const ask = { model: MODEL, input: "Hello", reasoning: { effort: "none" as const }, background: true };

describe("bounds of kept answers", () => {
  it("books a background response's usage once, under the response's id", async () => {
    const sim = await createSim();
    const openai = clientWith(sim.baseUrl);
    const created = await openai.responses.create(ask);
    const done = await untilDone(openai, created.id);
    const entry = await ledgerEntry(created.id);
    expect(entry.entryId).toBe(`owned:${created.id}`);
    expect(entry.usage.completionTokens).toBe(done.usage?.output_tokens);
    expect(entry.estimated).toBe(false);
  });

  it("stops an answer past the size cap with a clear error, and still books what was generated", async () => {
    const sim = await createSim({ minAnswerTokens: 300, maxAnswerTokens: 300 });
    const openai = clientWith(sim.baseUrl, { KEPT_MAX_BYTES: "3000" });
    const created = await openai.responses.create(ask);
    const done = await untilDone(openai, created.id);
    expect(done.status).toBe("failed");
    expect(done.error?.code).toBe("answer_too_large");
    expect(done.error?.message).toContain("3000 bytes");
    const entry = await ledgerEntry(created.id);
    expect(entry.outcome).toBe("cancelled");
    expect(entry.usage.completionTokens).toBeGreaterThan(0);
  });

  it("refuses a tenant's answer past its count quota, and counts a deleted one out", async () => {
    const sim = await createSim();
    const openai = clientWith(sim.baseUrl, { KEPT_MAX_PER_TENANT: "2" }, GLOBEX_KEY);
    const a = await openai.responses.create(ask);
    const b = await openai.responses.create(ask);
    const refused = await openai.responses.create(ask).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refused as APIError).code).toBe("kept_answers_quota");
    expect((refused as APIError).message).toContain("2 kept answers");
    await untilDone(openai, a.id);
    await openai.responses.delete(a.id);
    const c = await openai.responses.create(ask);
    expect(c.status).toMatch(/queued|in_progress/);
    for (const { id } of [b, c]) {
      await untilDone(openai, id);
      await openai.responses.delete(id);
    }
  });

  it("refuses past the storage quota", async () => {
    const sim = await createSim();
    const openai = clientWith(sim.baseUrl, { KEPT_QUOTA_BYTES: "100" }, GLOBEX_KEY);
    const first = await openai.responses.create(ask);
    await untilDone(openai, first.id);
    // Its bytes are counted when its owner finishes, a moment after the status says so.
    const answers = env.TENANT_ANSWERS.getByName("globex");
    await eventually(async () => expect((await answers.usage()).bytes).toBeGreaterThan(100));
    const refused = await openai.responses.create(ask).catch((error: unknown) => error);
    expect((refused as APIError).code).toBe("kept_answers_quota");
    expect((refused as APIError).message).toContain("bytes of kept answers");
    await openai.responses.delete(first.id);
  });

  it("deletes an answer at the end of its retention", async () => {
    const sim = await createSim();
    const openai = clientWith(sim.baseUrl, { KEPT_RESPONSE_TTL_S: "60" });
    const created = await openai.responses.create(ask);
    await untilDone(openai, created.id);
    const owner = env.STREAM_OWNER.getByName(`acme/${created.id}`);
    await runInDurableObject(owner, (instance: StreamOwner) => {
      instance.clock = () => Date.now() + 61_000;
    });
    // Expired answers are already invisible; the alarm then deletes what was kept.
    await expect(openai.responses.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect(await runDurableObjectAlarm(owner)).toBe(true);
    await runInDurableObject(owner, (_instance, state) => {
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM events").one().n).toBe(0);
    });
  });
});
