import { describe, expect, it } from "vitest";
import type { LimitReport } from "../../../src/tenancy/enforce";
import { chatBody, errorOf, eventually } from "../helpers";
import { adminCall, registryCall } from "./support";

const CHAT = "/v1/chat/completions";

/** Spends through the router with `key`; returns what the answer says it cost. */
async function spend(key: string): Promise<number> {
  const answer = await registryCall(CHAT, { key, json: chatBody() });
  expect(answer.status).toBe(200);
  await answer.arrayBuffer();
  return Number(answer.headers.get("x-router-cost-usd"));
}

async function ledgerRequests(tenant: string): Promise<number> {
  const usage = (await (await adminCall(`/tenants/${tenant}/usage`)).json()) as {
    totals: { requests: number };
  };
  return usage.totals.requests;
}

/**
 * An operator caps a tenant or key that is already spending: the budget covers the whole day, what was
 * spent before it was set included, and each key's counts only that key's spend.
 */
describe("a daily budget set part-way through the day", () => {
  it("counts what the key, and then the tenant, had already spent that day", async () => {
    const tenant = `t-${crypto.randomUUID().slice(0, 8)}`;
    expect((await adminCall("/tenants", { json: { id: tenant } })).status).toBe(201);
    const newKey = async (name: string) =>
      (await (await adminCall(`/tenants/${tenant}/keys`, { json: { name } })).json()) as {
        id: string;
        key: string;
      };
    const [first, second] = [await newKey("first"), await newKey("second")];
    const firstSpent = (await spend(first.key)) + (await spend(first.key));
    await spend(second.key);
    await eventually(async () => expect(await ledgerRequests(tenant)).toBe(3));

    const capped = await adminCall(`/tenants/${tenant}/keys/${first.id}`, {
      method: "PATCH",
      json: { limits: { usdPerDay: firstSpent } },
    });
    expect(capped.status).toBe(200);
    const refused = await registryCall(CHAT, { key: first.key, json: chatBody() });
    expect(refused.status).toBe(402);
    expect(await errorOf(refused)).toMatchObject({ code: "budget_exhausted" });
    const { limits } = (await (await registryCall("/v1/usage", { key: first.key })).json()) as {
      limits: LimitReport[];
    };
    // The key's own spend, not its tenant's: the other key's request is not counted against it.
    expect(limits.find((limit) => limit.scope === first.id)?.used).toBeCloseTo(firstSpent, 6);

    // The other key, with no budget of its own, still spends; then the tenant is capped at its total.
    await spend(second.key);
    // Four answers and the refusal, a row at no cost.
    await eventually(async () => expect(await ledgerRequests(tenant)).toBe(5));
    const usage = (await (await adminCall(`/tenants/${tenant}/usage`)).json()) as {
      totals: { costUsd: number };
    };
    const tenantCapped = await adminCall(`/tenants/${tenant}`, {
      method: "PATCH",
      json: { limits: { usdPerDay: usage.totals.costUsd } },
    });
    expect(tenantCapped.status).toBe(200);
    const refusedToo = await registryCall(CHAT, { key: second.key, json: chatBody() });
    expect(refusedToo.status).toBe(402);
  });
});
