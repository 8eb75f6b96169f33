import {
  createExecutionContext,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../../src/index";
import type { TenantLedger } from "../../../src/ledger/tenant-ledger";
import type { CapturedPayload } from "../../../src/observe/payload";
import type { RequestRecord } from "../../../src/trace";
import { GLOBEX_KEY } from "../../fixtures/tenants";
import { callWithUpstream, chatBody, routerRequest } from "../helpers";
import { limitedTenant } from "../tenancy/support";

const CHAT = "/v1/chat/completions";
const DAY_MS = 24 * 3600_000;

async function recordFor(requestId: string, key: string, tenants: string): Promise<RequestRecord> {
  const list = await callWithUpstream(
    env.DEEPSEEK_BASE_URL,
    `/v1/requests?request_id=${requestId}`,
    { key },
    { ROUTER_TENANTS: tenants },
  );
  const [record] = ((await list.json()) as { data: RequestRecord[] }).data;
  if (!record) throw new Error(`no record for ${requestId}`);
  return record;
}

/** Sends `content` as a non-streamed prompt and reads back what was captured of it, through its record. */
async function capturedPayload(key: string, tenants: string, content: string): Promise<CapturedPayload> {
  const requestId = `cap-${crypto.randomUUID()}`;
  const response = await callWithUpstream(
    env.DEEPSEEK_BASE_URL,
    CHAT,
    {
      key,
      json: chatBody({ messages: [{ role: "user", content }] }),
      headers: { "x-request-id": requestId },
    },
    { ROUTER_TENANTS: tenants },
  );
  expect(response.status).toBe(200);
  const record = await recordFor(requestId, key, tenants);
  const read = await callWithUpstream(
    env.DEEPSEEK_BASE_URL,
    `/v1/requests/${record.id}/payload`,
    { key },
    { ROUTER_TENANTS: tenants },
  );
  expect(read.status).toBe(200);
  return (await read.json()) as CapturedPayload;
}

describe("payload capture", () => {
  it("keeps a redacted, capped prompt and answer for a tenant that opted in, readable by it alone, as long as the record", async () => {
    const capture = { enabled: true, maxBytes: 300, redact: ["ACCT-\\d+"] };
    const { id, key, tenants } = await limitedTenant({}, { capture });
    const secret = "sk-live-0123456789abcdefghij";
    const content = `My key is ${secret}, account ACCT-998877. ${"Please summarise the router. ".repeat(20)}`;
    const requestId = `cap-${crypto.randomUUID()}`;
    // A refusal first: its record opens the tenant's record batch, which the capture's record joins
    // while the capture starts a payload batch of its own, due later.
    const refusal = createExecutionContext();
    const refused = await worker.fetch(
      routerRequest(CHAT, { key, json: { model: "deepseek-v4-flash" } }),
      { ...env, ROUTER_TENANTS: tenants },
      refusal,
    );
    expect(refused.status).toBe(400);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const response = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      CHAT,
      {
        key,
        json: chatBody({ stream: true, messages: [{ role: "user", content }] }),
        headers: { "x-request-id": requestId },
      },
      { ROUTER_TENANTS: tenants },
    );
    await response.text();
    // The record is listed only once its payload is written: the first listing can read it.
    let record: RequestRecord | undefined;
    for (let i = 0; i < 100 && !record; i++) {
      record = await recordFor(requestId, key, tenants).catch(() => undefined);
      if (!record) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(record?.payload).toEqual({ key: `captures/${id}/${record?.id}.json`, index: 0 });

    const read = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      `/v1/requests/${record?.id}/payload`,
      { key },
      { ROUTER_TENANTS: tenants },
    );
    expect(read.status).toBe(200);
    const payload = (await read.json()) as CapturedPayload;
    expect(payload.prompt).not.toContain(secret);
    expect(payload.prompt).not.toContain("ACCT-998877");
    expect(payload.prompt).toContain("[REDACTED]");
    expect(new TextEncoder().encode(payload.prompt).length).toBeLessThanOrEqual(300);
    expect(payload.truncated.prompt).toBe(true);
    expect(payload.answer).toContain("data:");
    await waitOnExecutionContext(refusal);

    // Another tenant cannot name it.
    const other = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      `/v1/requests/${record?.id}/payload`,
      { key: GLOBEX_KEY },
      { ROUTER_TENANTS: tenants },
    );
    expect(other.status).toBe(404);

    // It goes when its record goes.
    const ledger = env.TENANT_LEDGER.getByName(id);
    await runInDurableObject(ledger, (instance: TenantLedger) => {
      instance.clock = () => Date.now() + 15 * DAY_MS;
    });
    await runDurableObjectAlarm(ledger);
    expect(await env.FILES.head(record?.payload?.key ?? "")).toBeNull();
  });

  it("redacts a private key and a token in a prompt full of unterminated key headers and token starts, in time linear in the prompt", async () => {
    const { key, tenants } = await limitedTenant({}, { capture: { enabled: true, maxBytes: 4096 } });
    const pem =
      "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----";
    // Each header with no end once made the redaction scan the rest of the prompt: quadratic, minutes of CPU.
    const jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";
    // So did a run of would-be JWT starts (`eyJ-…`): each one scanned the rest of the run.
    const content = `${pem} ${jwt} ${"-----BEGIN PRIVATE KEY-----x".repeat(80_000)} ${"eyJ-".repeat(80_000)}`;
    const payload = await capturedPayload(key, tenants, content);
    expect(payload.prompt).toContain("[REDACTED]");
    expect(payload.prompt).not.toContain("MIIEowIBAAKCAQEA");
    expect(payload.prompt).not.toContain("c2lnbmF0dXJlLW9mLXRoZS10b2tlbg");
  });

  it("redacts credentials written as assignments, in text and in pasted JSON, and leaves prose alone", async () => {
    const { key, tenants } = await limitedTenant({}, { capture: { enabled: true, maxBytes: 4096 } });
    const content =
      'Log in with password=hunter2, then send {"api_key": "abc123xyz"} and Client_Secret: t0p-s3cret. The secret of a good answer is brevity.';
    const payload = await capturedPayload(key, tenants, content);
    for (const secret of ["hunter2", "abc123xyz", "t0p-s3cret"]) expect(payload.prompt).not.toContain(secret);
    expect(payload.prompt).toContain("The secret of a good answer is brevity.");
  });

  it("redacts a private key straddling the cap of a prompt of megabytes whole, and marks the prompt cut", async () => {
    const { key, tenants } = await limitedTenant({}, { capture: { enabled: true, maxBytes: 4096 } });
    const body = `MIIEowIBAAKCAQEA${"q".repeat(3_000)}`;
    const pem = `-----BEGIN RSA PRIVATE KEY-----\n${body}\n-----END RSA PRIVATE KEY-----`;
    // The key starts before the cap and ends past it; the prompt goes on for 2 MB after it.
    const content = `${"Context line. ".repeat(250)}${pem} ${"More context. ".repeat(150_000)}`;
    const payload = await capturedPayload(key, tenants, content);
    expect(payload.prompt).toContain("[REDACTED]");
    expect(payload.prompt).not.toContain("MIIEowIBAAKCAQEA");
    expect(payload.prompt).not.toContain("BEGIN RSA PRIVATE KEY");
    expect(new TextEncoder().encode(payload.prompt).length).toBeLessThanOrEqual(4096);
    expect(payload.truncated.prompt).toBe(true);
  });

  // A frontend token (a JWT, good for up to an hour as a bearer credential) is redacted like a router
  // key, whatever the tenant configures.
  it("redacts a frontend token and a router key pasted into a prompt", async () => {
    const capture = { enabled: true, maxBytes: 32_768, redact: [] };
    const { key, tenants } = await limitedTenant({}, { capture, frontend: { mint: true } });
    const minted = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      "/v1/frontend/tokens",
      { key, json: { sub: "alice" } },
      { ROUTER_TENANTS: tenants },
    );
    expect(minted.status).toBe(201);
    const { token } = (await minted.json()) as { token: string };
    const payload = await capturedPayload(
      key,
      tenants,
      `Why is my token ${token} refused? My key is ${key}.`,
    );
    expect(payload.prompt).toContain("Why is my token");
    expect(payload.prompt).not.toContain(token);
    expect(payload.prompt).not.toContain(token.split(".")[1]);
    expect(payload.prompt).not.toContain(key);
  });

  it("is off by default", async () => {
    const { key, tenants } = await limitedTenant({});
    const requestId = `nocap-${crypto.randomUUID()}`;
    await (
      await callWithUpstream(
        env.DEEPSEEK_BASE_URL,
        CHAT,
        { key, json: chatBody(), headers: { "x-request-id": requestId } },
        { ROUTER_TENANTS: tenants },
      )
    ).text();
    const record = await recordFor(requestId, key, tenants);
    expect(record.payload).toBeUndefined();
    const read = await callWithUpstream(
      env.DEEPSEEK_BASE_URL,
      `/v1/requests/${record.id}/payload`,
      { key },
      { ROUTER_TENANTS: tenants },
    );
    expect(read.status).toBe(404);
  });
});
