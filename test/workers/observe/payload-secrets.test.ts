import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { CapturedPayload } from "../../../src/observe/payload";
import type { RequestRecord } from "../../../src/trace";
import { callWithUpstream, chatBody } from "../helpers";
import { limitedTenant } from "../tenancy/support";

const CHAT = "/v1/chat/completions";

/**
 * Credentials pasted into a prompt never reach a captured payload: a frontend token (a JWT, good for
 * up to an hour as a bearer credential) is redacted like a router key, whatever the tenant configures.
 */
describe("payload capture of a prompt holding credentials", () => {
  it("redacts a frontend token and a router key", async () => {
    const capture = { enabled: true, maxBytes: 32_768, redact: [] };
    const { key, tenants } = await limitedTenant({}, { capture, frontend: { mint: true } });
    const settings = { ROUTER_TENANTS: tenants };
    const minted = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      "/v1/frontend/tokens",
      { key, json: { sub: "alice" } },
      settings,
    );
    expect(minted.status).toBe(201);
    const { token } = (await minted.json()) as { token: string };
    const requestId = `cap-${crypto.randomUUID()}`;
    const content = `Why is my token ${token} refused? My key is ${key}.`;
    const response = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      CHAT,
      {
        key,
        json: chatBody({ messages: [{ role: "user", content }] }),
        headers: { "x-request-id": requestId },
      },
      settings,
    );
    expect(response.status).toBe(200);
    let record: RequestRecord | undefined;
    for (let i = 0; i < 100 && !record; i++) {
      const list = await callWithUpstream(
        env.DEEPSEEK_BASE_URL,
        `/v1/requests?request_id=${requestId}`,
        { key },
        settings,
      );
      record = ((await list.json()) as { data: RequestRecord[] }).data[0];
      if (!record) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const read = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      `/v1/requests/${record?.id}/payload`,
      { key },
      settings,
    );
    expect(read.status).toBe(200);
    const payload = (await read.json()) as CapturedPayload;
    expect(payload.prompt).toContain("Why is my token");
    expect(payload.prompt).not.toContain(token);
    expect(payload.prompt).not.toContain(token.split(".")[1]);
    expect(payload.prompt).not.toContain(key);
  });
});
