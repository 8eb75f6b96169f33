import { describe, expect, it, vi } from "vitest";
import { chatBody, createSim } from "../helpers";
import { call, frontendTenant, mint } from "./support";

const SUB = "alice@example.com";

describe("verified identity wins", () => {
  it("replaces user, safety_identifier and metadata.user_id upstream with a stable id; the raw sub never reaches DeepSeek", async () => {
    const sim = await createSim();
    const { key, tenants } = await frontendTenant();
    const spoofed = {
      user: "bob",
      safety_identifier: "bob",
      user_id: "bob",
      metadata: { user_id: "bob", team: "x" },
    };
    const sent: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 2; i++) {
      // Two tokens for the same end user: the id is stable across tokens.
      const token = await mint(tenants, key, { sub: SUB });
      const response = await call(
        tenants,
        "/v1/chat/completions",
        { key: token, json: chatBody(spoofed) },
        {},
        sim.baseUrl,
      );
      expect(response.status).toBe(200);
      sent.push((await sim.stats()).recent.at(-1)?.body as Record<string, unknown>);
    }
    const [first, second] = sent;
    const id = first?.user_id;
    expect(id).toMatch(/^u_[A-Za-z0-9_-]{24}$/);
    expect(first).toMatchObject({ user: id, safety_identifier: id, metadata: { user_id: id, team: "x" } });
    expect(second?.user_id).toBe(id);
    const seen = JSON.stringify(sent);
    expect(seen).not.toContain("alice");
    expect(seen).not.toContain("bob");
  });

  it("gives the same sub a different id in another tenant, and a different sub a different id", async () => {
    const sim = await createSim();
    const one = await frontendTenant();
    const two = await frontendTenant();
    const ids: unknown[] = [];
    for (const [tenant, sub] of [
      [one, SUB],
      [two, SUB],
      [one, "carol"],
    ] as const) {
      const token = await mint(tenant.tenants, tenant.key, { sub });
      await call(tenant.tenants, "/v1/chat/completions", { key: token, json: chatBody() }, {}, sim.baseUrl);
      ids.push(((await sim.stats()).recent.at(-1)?.body as Record<string, unknown> | undefined)?.user_id);
    }
    expect(new Set(ids).size).toBe(3);
  });

  it("keeps each end user's prompt cache entries their own: another user of the app never hits them", async () => {
    const sim = await createSim();
    const { key, tenants } = await frontendTenant();
    // Cacheable by default (temperature 0), and the same prompt from every caller.
    const body = chatBody({
      temperature: 0,
      messages: [{ role: "user", content: `private ${crypto.randomUUID()}` }],
    });
    const ask = async (sub: string) => {
      const token = await mint(tenants, key, { sub });
      const response = await call(
        tenants,
        "/v1/chat/completions",
        { key: token, json: body },
        {},
        sim.baseUrl,
      );
      expect(response.status).toBe(200);
      return response.headers.get("x-router-cache");
    };
    expect(await ask("alice")).toBe("MISS");
    expect(await ask("bob")).toBe("MISS");
    expect(await ask("alice")).toBe("HIT");
    // The tenant's own server key keys its entries as before, apart from its end users'.
    const server = await call(tenants, "/v1/chat/completions", { key, json: body }, {}, sim.baseUrl);
    expect(server.headers.get("x-router-cache")).toBe("MISS");
    expect((await sim.stats()).requests).toBe(3);
  });

  it("keeps no stream for a page: resuming takes a server key, so asking is refused and a tenant's default passes it by", async () => {
    const sim = await createSim();
    const { key, tenants } = await frontendTenant();
    const token = await mint(tenants, key, { sub: SUB });
    const stream = chatBody({ stream: true });
    const asked = await call(
      tenants,
      "/v1/chat/completions",
      { key: token, json: stream, headers: { "x-router-resumable": "on" } },
      {},
      sim.baseUrl,
    );
    expect(asked.status).toBe(403);
    expect(((await asked.json()) as { error: { code: string } }).error.code).toBe(
      "frontend_token_not_allowed",
    );
    const keptByDefault = (JSON.parse(tenants) as Array<Record<string, unknown>>).map((tenant) => ({
      ...tenant,
      resumableStreams: true,
    }));
    const plain = await call(
      JSON.stringify(keptByDefault),
      "/v1/chat/completions",
      { key: token, json: stream },
      {},
      sim.baseUrl,
    );
    expect(plain.status).toBe(200);
    expect(plain.headers.get("x-router-stream-id")).toBeNull();
    expect(await plain.text()).toContain("[DONE]");
  });

  it("sets metadata.user_id on Messages, whatever the page sent", async () => {
    const sim = await createSim();
    const { key, tenants } = await frontendTenant();
    const token = await mint(tenants, key, { sub: SUB });
    const response = await call(
      tenants,
      "/anthropic/v1/messages",
      {
        key: null,
        headers: { "x-api-key": token, "anthropic-version": "2023-06-01" },
        json: {
          model: "deepseek-v4-flash",
          max_tokens: 32,
          messages: [{ role: "user", content: "Hi" }],
          metadata: { user_id: "bob" },
        },
      },
      {},
      sim.baseUrl,
    );
    expect(response.status).toBe(200);
    const body = (await sim.stats()).recent.at(-1)?.body as { metadata: { user_id: string } };
    expect(body.metadata.user_id).toMatch(/^u_/);
    expect(JSON.stringify(body)).not.toMatch(/alice|bob/);
  });

  it("logs the verified end user's id on the completion line, not what the body names", async () => {
    const { key, tenants } = await frontendTenant();
    const token = await mint(tenants, key, { sub: SUB });
    const log = vi.spyOn(console, "log");
    try {
      const response = await call(tenants, "/v1/chat/completions", {
        key: token,
        json: chatBody({ user: "bob" }),
      });
      expect(response.status).toBe(200);
      const line = log.mock.calls
        .map((args) => String(args[0]))
        .find((text) => text.includes('"event":"completion"'));
      expect(line).toMatch(/"endUser":"u_[A-Za-z0-9_-]{24}"/);
      expect(line).not.toMatch(/alice|bob/);
    } finally {
      log.mockRestore();
    }
  });
});
