import { describe, expect, it } from "vitest";
import { createSimHost } from "../../../sim/host";
import { AUTH, chatBody } from "./helpers";

type Created = { id: string; baseUrl: string };

function hostRequest(
  host: ReturnType<typeof createSimHost>,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  return Promise.resolve(host.request(`http://127.0.0.1:8788${path}`, init));
}

async function create(host: ReturnType<typeof createSimHost>, options: unknown = {}): Promise<Created> {
  const res = await hostRequest(host, "/_sim/instances", { method: "POST", body: JSON.stringify(options) });
  expect(res.status).toBe(201);
  return (await res.json()) as Created;
}

const chat = { method: "POST", headers: AUTH, body: JSON.stringify(chatBody()) };

describe("simulator host", () => {
  it("creates isolated instances under /i/<id>", async () => {
    const host = createSimHost({ ttftMs: 0, tokensPerS: 0 });
    const a = await create(host);
    const b = await create(host, { faultScript: [{ kind: "status", status: 503 }] });
    expect(a.baseUrl).toBe(`http://127.0.0.1:8788/i/${a.id}`);
    expect(a.id).not.toBe(b.id);

    expect((await hostRequest(host, `/i/${a.id}/v1/chat/completions`, chat)).status).toBe(200);
    expect((await hostRequest(host, `/i/${a.id}/chat/completions`, chat)).status).toBe(200);
    expect((await hostRequest(host, `/i/${b.id}/chat/completions`, chat)).status).toBe(503);
    expect((await hostRequest(host, "/chat/completions", chat)).status).toBe(200);

    const stats = async (path: string) =>
      (await (await hostRequest(host, path)).json()) as { requests: number; byPath: object };
    expect(await stats(`/_sim/instances/${a.id}/stats`)).toMatchObject({
      requests: 2,
      byPath: { "/v1/chat/completions": 1, "/chat/completions": 1 },
    });
    expect((await stats(`/_sim/instances/${b.id}/stats`)).requests).toBe(1);
    expect((await stats("/_sim/stats")).requests).toBe(1);
    expect((await stats(`/i/${a.id}/_sim/stats`)).requests).toBe(2);
  });

  it("configures, resets and deletes instances", async () => {
    const host = createSimHost({ ttftMs: 0, tokensPerS: 0 });
    const { id } = await create(host, { concurrency: 3 });
    const patched = await hostRequest(host, `/_sim/instances/${id}`, {
      method: "PATCH",
      body: JSON.stringify({ faults: { statusRates: { "500": 1 } } }),
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ concurrency: 3, faults: { statusRates: { "500": 1 } } });
    expect((await hostRequest(host, `/i/${id}/chat/completions`, chat)).status).toBe(500);

    const bad = await hostRequest(host, `/_sim/instances/${id}`, {
      method: "PATCH",
      body: '{"overload":"drop"}',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/overload/);

    expect((await hostRequest(host, `/_sim/instances/${id}/reset`, { method: "POST" })).status).toBe(200);
    expect((await hostRequest(host, `/i/${id}/chat/completions`, chat)).status).toBe(200);
    expect(await (await hostRequest(host, `/_sim/instances/${id}`)).json()).toMatchObject({
      faults: { statusRates: { "500": 0 } },
    });

    expect((await hostRequest(host, `/_sim/instances/${id}`, { method: "DELETE" })).status).toBe(204);
    expect((await hostRequest(host, `/i/${id}/chat/completions`, chat)).status).toBe(404);
    expect((await hostRequest(host, `/_sim/instances/${id}/stats`)).status).toBe(404);
  });

  it("controls the default instance at the root", async () => {
    const host = createSimHost({ ttftMs: 0, tokensPerS: 0 });
    const patched = await hostRequest(host, "/_sim/config", {
      method: "PATCH",
      body: JSON.stringify({ era: "legacy" }),
    });
    expect(await patched.json()).toMatchObject({ era: "legacy" });
    const models = (await (await hostRequest(host, "/models", { headers: AUTH })).json()) as {
      data: Array<{ id: string }>;
    };
    expect(models.data.map((m) => m.id)).toEqual(["deepseek-chat", "deepseek-reasoner"]);
    await hostRequest(host, "/_sim/reset", { method: "POST" });
    expect(await (await hostRequest(host, "/_sim/config")).json()).toMatchObject({ era: "v41" });
    expect(
      (await hostRequest(host, "/_sim/instances", { method: "POST", body: '{"era":"v5"}' })).status,
    ).toBe(400);
  });
});
