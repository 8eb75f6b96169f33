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

/** The request's record once listed: a stream's is made when the stream has ended, after its response. */
async function listedRecord(requestId: string, key: string, tenants: string): Promise<RequestRecord> {
  for (let i = 0; i < 100; i++) {
    const record = await recordFor(requestId, key, tenants).catch(() => undefined);
    if (record) return record;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return recordFor(requestId, key, tenants);
}

/** Sends `content` as a non-streamed prompt (or `body` to `path`) and reads back what was captured of it, through its record. */
async function capturedPayload(
  key: string,
  tenants: string,
  content: string,
  { path = CHAT, body = chatBody({ messages: [{ role: "user", content }] }) } = {},
): Promise<CapturedPayload> {
  const requestId = `cap-${crypto.randomUUID()}`;
  const response = await callWithUpstream(
    env.DEEPSEEK_BASE_URL,
    path,
    { key, json: body, headers: { "x-request-id": requestId } },
    { ROUTER_TENANTS: tenants },
  );
  expect(response.status, await response.clone().text()).toBe(200);
  await response.text();
  const record = await listedRecord(requestId, key, tenants);
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
    const record = await listedRecord(requestId, key, tenants);
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
    // A stream is kept as the answer it assembles to, as a non-streaming caller would have had it.
    expect(payload.answer).toContain('"object":"chat.completion"');
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

  it("redacts a secret a streamed answer spells out a token at a time, on every door", async () => {
    const capture = { enabled: true, maxBytes: 8192, redact: ["ACCT-\\d+"] };
    const { key, tenants } = await limitedTenant({}, { capture });
    const secrets = ["sk-live-abcdefghijklmnopqrstuvwxyz0123456789", "ACCT-99887766"];
    // The simulator writes a forced tool's `const` arguments into its call, a few characters an event.
    const properties = { k: { const: secrets[0] }, acct: { const: secrets[1] } };
    const parameters = { type: "object", properties, required: ["k", "acct"] };
    const chat = chatBody({
      stream: true,
      thinking: { type: "disabled" },
      tools: [{ type: "function", function: { name: "f", parameters } }],
      tool_choice: { type: "function", function: { name: "f" } },
      messages: [{ role: "user", content: "call f" }],
    });
    const messages = {
      model: "deepseek-v4-flash",
      max_tokens: 256,
      stream: true,
      thinking: { type: "disabled" },
      tools: [{ name: "f", input_schema: parameters }],
      tool_choice: { type: "tool", name: "f" },
      messages: [{ role: "user", content: "call f" }],
    };
    const responses = {
      model: "deepseek-v4-flash",
      stream: true,
      reasoning: { effort: "none" },
      tools: [{ type: "function", name: "f", parameters }],
      tool_choice: { type: "function", name: "f" },
      input: "call f",
    };
    for (const [path, body] of [
      [CHAT, chat],
      ["/anthropic/v1/messages", messages],
      ["/v1/responses", responses],
    ] as const) {
      const payload = await capturedPayload(key, tenants, "", { path, body });
      for (const secret of secrets) expect(payload.answer, path).not.toContain(secret);
      expect(payload.answer, path).toContain("[REDACTED]");
    }
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
    const content = [
      'Log in with password=hunter2, then send {"api_key": "abc123xyz"} and Client_Secret: t0p-s3cret.',
      "DB_PASSWORD=hunter3secret my_api_key=val-abc-123 GITHUB_TOKEN=ghp_0123456789abcdef",
      "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      'password: "correct horse battery staple"',
      "The secret of a good answer is brevity. Set max_tokens: 4096; each token: one piece.",
    ].join("\n");
    const payload = await capturedPayload(key, tenants, content);
    const secrets = [
      "hunter2",
      "abc123xyz",
      "t0p-s3cret",
      "hunter3secret",
      "val-abc-123",
      "ghp_0123456789abcdef",
    ];
    for (const secret of [...secrets, "bPxRfiCYEXAMPLEKEY", "horse battery"])
      expect(payload.prompt).not.toContain(secret);
    expect(payload.prompt).toContain(
      "The secret of a good answer is brevity. Set max_tokens: 4096; each token: one piece.",
    );
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

  it("cuts a prompt of three-byte characters at its cap on a character's edge, never past the cap", async () => {
    // Of three caps in a row, at least two fall inside a character.
    for (const maxBytes of [4096, 4097, 4098]) {
      const { key, tenants } = await limitedTenant({}, { capture: { enabled: true, maxBytes } });
      const payload = await capturedPayload(key, tenants, "漢".repeat(5_000));
      expect(new TextEncoder().encode(payload.prompt).length).toBeLessThanOrEqual(maxBytes);
      expect(payload.prompt).not.toContain("\uFFFD");
      expect(payload.truncated.prompt).toBe(true);
    }
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
