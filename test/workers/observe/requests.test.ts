import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { BATCH_QUEUE, runBatchLines } from "../../../src/batch/consumer";
import type { LineMessage } from "../../../src/batch/types";
import type { Limits } from "../../../src/config/limits";
import worker from "../../../src/index";
import { exportTraces, OTEL_QUEUE } from "../../../src/observe/otel-export";
import { type OtlpTraces, toOtlp } from "../../../src/observe/otlp";
import { pendingRecord, type TraceBatch, writeRecords } from "../../../src/observe/recorder";
import type { ObserveVars } from "../../../src/observe/settings";
import type { RequestRecord } from "../../../src/trace";
import { GLOBEX_KEY } from "../../fixtures/tenants";
import {
  capturedBatches,
  chatLine,
  MONDAY_OFF_PEAK,
  openaiClient,
  sentLines,
  submitBatch,
} from "../batch/support";
import { uniquePrompt } from "../cache/support";
import { chatBody, createSim, errorOf, eventually, type SimInstance, singlePoolPolicy } from "../helpers";
import { limitedTenant } from "../tenancy/support";
import { ADMIN_KEY, asOperator, deliveredAlerts } from "./support";

const CHAT = "/v1/chat/completions";

type Listed = {
  object: string;
  data: Array<RequestRecord & { object: string }>;
  has_more: boolean;
  last_id: string | null;
};

let sim: SimInstance;
beforeAll(async () => {
  sim = await createSim({ ttftMs: 0 });
});

/** A chat request with a request id of its own; returns the response (its body read) and the id. */
async function chat(
  init: Record<string, unknown> = {},
  body = chatBody(),
  vars: Record<string, unknown> = {},
) {
  const headers = {
    "x-request-id": `rq-${crypto.randomUUID()}`,
    ...((init.headers as Record<string, string>) ?? {}),
  };
  const requestId = headers["x-request-id"];
  const response = await sim.call(CHAT, { json: body, ...init, headers }, vars);
  await response.clone().text();
  return { response, requestId };
}

/** The tenant's own records under a request id, through `GET /v1/requests` (acme's key by default). */
async function recordsOf(requestId: string, key?: string): Promise<Listed> {
  const response = await sim.call(`/v1/requests?request_id=${requestId}`, key ? { key } : {});
  expect(response.status).toBe(200);
  return response.json();
}

async function recordOf(requestId: string): Promise<RequestRecord> {
  const list = await recordsOf(requestId);
  expect(list.data).toHaveLength(1);
  return list.data[0] as RequestRecord;
}

describe("request records", () => {
  it("record a served request: decision, timeline, usage, cost, and the caller's trace", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const { response, requestId } = await chat({
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(response.status).toBe(200);
    const returned = response.headers.get("traceparent") ?? "";
    expect(returned).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const record = await recordOf(requestId);
    expect(record).toMatchObject({
      object: "request.record",
      requestId,
      tenant: "acme",
      surface: "openai",
      endpoint: "chat",
      askedModel: "deepseek-v4-flash",
      model: "deepseek-v4-flash",
      status: 200,
      outcome: "complete",
      stream: false,
      retries: 0,
      trace: { traceId, parentSpanId: "00f067aa0ba902b7", spanId: returned.split("-")[2] },
    });
    expect(record.id).toMatch(/^req_[0-9a-f]{24}$/);
    expect(record.usage.promptTokens).toBeGreaterThan(0);
    expect(record.costUsd).toBeGreaterThan(0);
    expect(record.classification?.type).toBe("chat");
    expect(record.timeline.map((e) => e.kind)).toEqual(["admission", "attempt", "first_token", "end"]);
    expect(record.timeline[1]).toMatchObject({ status: 200, pool: record.pool, target: "deepseek" });

    // One record, by id, for its tenant and for the operator.
    const one = await sim.call(`/v1/requests/${record.id}`);
    expect(await one.json()).toMatchObject({ id: record.id, requestId });
    const admin = await asOperator(sim.baseUrl, `/admin/requests/${record.id}`);
    expect(await admin.json()).toMatchObject({ id: record.id, tenant: "acme" });
  });

  it("record retried attempts and the failure that ended them", async () => {
    const failing = await createSim({ ttftMs: 0, faults: { statusRates: { "500": 1 } } });
    const vars = {
      ROUTER_POLICY: singlePoolPolicy(failing.baseUrl, {
        retries: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
      }),
    };
    const requestId = `rq-${crypto.randomUUID()}`;
    const response = await failing.call(
      CHAT,
      { json: chatBody(), headers: { "x-request-id": requestId } },
      vars,
    );
    expect(response.status).toBeGreaterThanOrEqual(500);
    const record = await recordOf(requestId);
    const attempts = record.timeline.filter((e) => e.kind === "attempt");
    expect(attempts.length).toBeGreaterThan(1);
    expect(attempts.every((e) => e.status === 500)).toBe(true);
    expect(attempts.slice(0, -1).every((e) => e.retried)).toBe(true);
    expect(record).toMatchObject({ outcome: "rejected", retries: attempts.length - 1 });
    expect(record.errorCode).toBeTruthy();
  });

  it("record a refusal before the pipeline, and a cache hit", async () => {
    const { response, requestId } = await chat({}, chatBody({ messages: "not a list" }));
    expect(response.status).toBe(400);
    expect(await recordOf(requestId)).toMatchObject({
      status: 400,
      outcome: "rejected",
      errorCode: "invalid_request",
    });
    // Refused at its decision: the record still names the model it asked for.
    const unknown = await chat({}, chatBody({ model: "no-such-model" }));
    expect(unknown.response.status).toBe(400);
    expect(await recordOf(unknown.requestId)).toMatchObject({
      askedModel: "no-such-model",
      status: 400,
      errorCode: "model_not_found",
    });

    // A model name past 256 characters is refused as such, and its record keeps a capped name.
    const long = await chat({}, chatBody({ model: "m".repeat(300_000) }));
    expect(long.response.status).toBe(400);
    expect((await errorOf(long.response)).param).toBe("model");
    expect((await recordOf(long.requestId)).askedModel).toBe(`${"m".repeat(256)}…`);

    const body = chatBody({ temperature: 0, messages: [{ role: "user", content: uniquePrompt() }] });
    await chat({}, body);
    const hit = await chat({}, body);
    expect(hit.response.headers.get("x-router-cache")).toBe("HIT");
    const record = await recordOf(hit.requestId);
    expect(record).toMatchObject({ cache: "HIT", costUsd: 0, status: 200 });
    expect(record.timeline.map((e) => e.kind)).toEqual(["end"]);
  });

  it("name the door and the model asked for, as the caller wrote it, refused or served", async () => {
    const send = async (path: string, json: unknown) => {
      const requestId = `rq-${crypto.randomUUID()}`;
      const response = await sim.call(path, { json, headers: { "x-request-id": requestId } });
      await response.text();
      return { status: response.status, record: await recordOf(requestId) };
    };
    const claude = { model: "claude-3-5-haiku", max_tokens: 16 };
    const served = await send("/anthropic/v1/messages", {
      ...claude,
      messages: [{ role: "user", content: "Hi" }],
    });
    expect(served.status).toBe(200);
    expect(served.record).toMatchObject({
      surface: "anthropic",
      endpoint: "messages",
      askedModel: "claude-3-5-haiku",
    });
    expect(served.record.model).toMatch(/^deepseek-/);

    const refused = await send("/anthropic/v1/messages", { ...claude, messages: "nope" });
    expect(refused.status).toBe(400);
    expect(refused.record).toMatchObject({
      surface: "anthropic",
      endpoint: "messages",
      askedModel: "claude-3-5-haiku",
    });
    const responses = await send("/v1/responses", { model: "deepseek-v4-flash", input: 42 });
    expect(responses.status).toBe(400);
    expect(responses.record).toMatchObject({
      surface: "responses",
      endpoint: "responses",
      askedModel: "deepseek-v4-flash",
    });
  });

  it("are the tenant's own: another tenant can neither list nor read them", async () => {
    const { requestId } = await chat();
    const record = await recordOf(requestId);
    expect((await recordsOf(requestId, GLOBEX_KEY)).data).toEqual([]);
    const other = await sim.call(`/v1/requests/${record.id}`, { key: GLOBEX_KEY });
    expect(other.status).toBe(404);
    expect((await errorOf(other)).code).toBe("not_found");
  });

  it("list newest first with filters and cursor paging", async () => {
    const model = "deepseek-v4-flash";
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await chat({ headers: { "x-request-id": `page-${i}` } })).requestId);
    const since = Date.now() - 60_000;
    const first: Listed = await (
      await sim.call(`/v1/requests?limit=2&model=${model}&from=${since}&outcome=complete`)
    ).json();
    expect(first.object).toBe("list");
    expect(first.data).toHaveLength(2);
    expect(first.has_more).toBe(true);
    expect(first.data[0]!.id > first.data[1]!.id).toBe(true);
    const next: Listed = await (await sim.call(`/v1/requests?limit=2&after=${first.last_id}`)).json();
    expect(next.data[0]!.id < first.data[1]!.id).toBe(true);

    const slow: Listed = await (await sim.call("/v1/requests?slow_ms=3600000")).json();
    expect(slow.data).toEqual([]);
    const bad = await sim.call("/v1/requests?limit=0");
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).param).toBe("limit");
    const unknownCache = await sim.call("/v1/requests?cache=bogus");
    expect(unknownCache.status).toBe(400);
    expect((await errorOf(unknownCache)).param).toBe("cache");
    // Plain decimals and days that exist: `Number` and `Date.parse` would read all of these as something.
    for (const [query, param] of [
      ["from=-1", "from"],
      ["from=2026-02-30", "from"],
      ["to=99999999999999999", "to"],
      ["limit=0x10", "limit"],
      ["limit=1e1", "limit"],
      ["status=200.0", "status"],
      ["slow_ms=%20", "slow_ms"],
      ["min_cost_usd=1e-3", "min_cost_usd"],
    ]) {
      const refused = await sim.call(`/v1/requests?${query}`);
      expect(refused.status, query).toBe(400);
      expect((await errorOf(refused)).param, query).toBe(param);
    }
    expect((await sim.call("/v1/requests?outcome=COMPLETE&cache=HIT&from=2024-02-29")).status).toBe(200);
    // Insights read only the range, which never starts before the epoch.
    const insights = await sim.call("/v1/requests/insights?to=1&limit=abc");
    expect(insights.status).toBe(200);
    expect(((await insights.json()) as { from: number }).from).toBe(0);

    // The operator's list spans tenants, or one.
    const globex = await chat({ key: GLOBEX_KEY });
    const both: Listed = await (
      await asOperator(sim.baseUrl, `/admin/requests?from=${since}&limit=100`)
    ).json();
    expect(new Set(both.data.map((r) => r.tenant))).toEqual(new Set(["acme", "globex"]));
    const only: Listed = await (
      await asOperator(sim.baseUrl, `/admin/requests?tenant=globex&request_id=${globex.requestId}`)
    ).json();
    expect(only.data.map((r) => r.tenant)).toEqual(["globex"]);
    const refused = await sim.call("/admin/requests", { key: ADMIN_KEY });
    expect(refused.status).toBe(404); // no admin key configured: the admin API does not exist
  });
});

describe("OpenTelemetry export", () => {
  it("sends OTLP/HTTP JSON with GenAI attributes in the caller's trace to the collector", async () => {
    const traceId = crypto.randomUUID().replaceAll("-", "");
    const { requestId } = await chat({ headers: { traceparent: `00-${traceId}-1111111111111111-01` } });
    const record = await recordOf(requestId);
    const collector = new URL((env as Env & ObserveVars).ALERT_WEBHOOK_URL ?? "").origin;
    const vars = {
      ...env,
      OTEL_EXPORTER_OTLP_ENDPOINT: `${collector}/otel`,
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20otel-test",
    };
    // As the recorder queues it: the batch's JSON text.
    const batch = createMessageBatch<TraceBatch | string>(OTEL_QUEUE, [
      {
        id: "m1",
        timestamp: new Date(),
        attempts: 1,
        body: JSON.stringify({ tenant: "acme", records: [record] } satisfies TraceBatch),
      },
    ]);
    const ctx = createExecutionContext();
    await exportTraces(batch, vars);
    await waitOnExecutionContext(ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m1"]);

    const [delivery] = await deliveredAlerts(record.id);
    expect(delivery).toMatchObject({ path: "/otel/v1/traces", authorization: "Bearer otel-test" });
    const otlp = JSON.parse(delivery!.body) as OtlpTraces;
    const spans = otlp.resourceSpans[0]!.scopeSpans[0]!.spans;
    const root = spans.find((s) => s.spanId === record.trace.spanId)!;
    expect(root).toMatchObject({
      traceId,
      parentSpanId: "1111111111111111",
      kind: 2,
      name: "chat deepseek-v4-flash",
    });
    const attrs = Object.fromEntries(root.attributes.map((a) => [a.key, Object.values(a.value)[0]]));
    expect(attrs).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "deepseek-v4-flash",
      "gen_ai.response.model": "deepseek-v4-flash",
      "gen_ai.usage.input_tokens": String(record.usage.promptTokens),
      "gen_ai.usage.output_tokens": String(record.usage.completionTokens),
      "deepseek_router.tenant": "acme",
      "deepseek_router.request_id": requestId,
    });
    const children = spans.filter((s) => s.parentSpanId === record.trace.spanId);
    expect(children.map((s) => s.name)).toEqual([`admission ${record.pool}`, "chat deepseek-v4-flash"]);
    expect(children.map((s) => s.kind)).toEqual([1, 3]);
    for (const span of spans) {
      expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano)).toBe(true);
    }
  });

  it("marks a 5xx and a stream that failed after its 200 as error spans, with an error.type, and a 4xx not", async () => {
    const { requestId } = await chat();
    const record = await recordOf(requestId);
    /** The SERVER span of the record, changed as given. */
    const rootOf = (change: Partial<RequestRecord> = {}) =>
      toOtlp([{ ...record, ...change }]).resourceSpans[0]!.scopeSpans[0]!.spans[0];
    const attribute = (span: ReturnType<typeof rootOf>, key: string) =>
      span?.attributes.find((a) => a.key === key)?.value;

    const broken = rootOf({ outcome: "failed", status: 200 });
    expect(broken?.status).toEqual({ code: 2, message: "stream_failed" });
    expect(attribute(broken, "error.type")).toEqual({ stringValue: "stream_failed" });
    expect(rootOf()?.status).toEqual({ code: 0 });
    // The caller's error (a 4xx) leaves a SERVER span's status unset; the router's code still names it.
    const refused = rootOf({ status: 429, outcome: "rejected", errorCode: "tenant_rate_limited" });
    expect(refused?.status).toEqual({ code: 0 });
    expect(attribute(refused, "error.type")).toBeUndefined();
    expect(attribute(refused, "deepseek_router.error_code")).toEqual({ stringValue: "tenant_rate_limited" });
    const cut = rootOf({ outcome: "truncated", finishReason: "insufficient_system_resource" });
    expect(cut?.status).toEqual({ code: 2, message: "insufficient_system_resource" });
    const failed = rootOf({ status: 502, outcome: "rejected", errorCode: "upstream_error" });
    expect(failed?.status).toEqual({ code: 2, message: "upstream_error" });
  });

  it("queues a flush's spans once, however often its ledger write is retried", async () => {
    const { requestId } = await chat();
    const records = [pendingRecord(await recordOf(requestId))];
    const queued: number[] = [];
    const queue = {
      sendBatch: (messages: Iterable<MessageSendRequest>) => {
        queued.push([...messages].length);
        return env.OTEL_TRACES.sendBatch(messages);
      },
    };
    // The ledger refuses the first write (an overloaded or evicted object), as a flush may see it.
    let refusals = 1;
    const ledger = {
      getByName: (name: string) =>
        refusals-- > 0
          ? { recordRequests: () => Promise.reject(new Error("ledger overloaded")) }
          : env.TENANT_LEDGER.getByName(name),
    };
    const vars = {
      ...env,
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector.invalid",
      OTEL_TRACES: queue as unknown as Env["OTEL_TRACES"],
      TENANT_LEDGER: ledger as unknown as Env["TENANT_LEDGER"],
    };
    // The batcher retries a failed flush with the same array.
    await expect(writeRecords(vars, "acme", records)).rejects.toThrow("ledger overloaded");
    await writeRecords(vars, "acme", records);
    expect(queued).toEqual([1]);
    expect((await recordsOf(requestId)).data).toHaveLength(1);
  });

  it("retries a batch the collector refuses (a message an older version queued as an object too)", async () => {
    const { requestId } = await chat();
    const record = await recordOf(requestId);
    const batch = createMessageBatch<TraceBatch>(OTEL_QUEUE, [
      { id: "m1", timestamp: new Date(), attempts: 1, body: { tenant: "acme", records: [record] } },
    ]);
    const ctx = createExecutionContext();
    const refuse = async () => new Response("busy", { status: 503 });
    await exportTraces(batch, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector.invalid" }, refuse);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m1"]);
    expect(result.explicitAcks).toEqual([]);
  });
});

describe("request records of every outcome", () => {
  /** A tenant of its own (and its key), so its records are its alone. */
  async function ownTenant(extra: Record<string, unknown> = {}, limits: Limits = {}) {
    return limitedTenant(limits, extra);
  }

  async function recordsFor(key: string, tenants: string, query = ""): Promise<RequestRecord[]> {
    const response = await sim.call(`/v1/requests?limit=100${query}`, { key }, { ROUTER_TENANTS: tenants });
    return ((await response.json()) as Listed).data;
  }

  it("an answer the upstream cut short for lack of resources, streamed or not, as truncated", async () => {
    const cut = await createSim({
      ttftMs: 0,
      faultScript: [
        { kind: "insufficientResource", afterTokens: 2 },
        { kind: "insufficientResource", afterTokens: 2 },
      ],
    });
    for (const stream of [false, true]) {
      const requestId = `cut-${crypto.randomUUID()}`;
      const response = await cut.call(CHAT, {
        json: chatBody({ stream }),
        headers: { "x-request-id": requestId },
      });
      expect(response.status).toBe(200);
      await response.text();
      await eventually(async () => {
        expect(await recordOf(requestId)).toMatchObject({
          stream,
          outcome: "truncated",
          finishReason: "insufficient_system_resource",
        });
      });
    }
  });

  it("a fallback to the next pool, with the failed attempt before it", async () => {
    const failing = await createSim({ ttftMs: 0, faults: { statusRates: { "500": 1 } } });
    const pool = (name: string, baseUrl: string) => ({
      provider: "deepseek",
      targets: [{ name: `${name}-target`, baseUrl, keySecret: "DEEPSEEK_API_KEY" }],
      models: { "deepseek-v4-flash": "deepseek-v4-flash" },
      capabilities: ["tools", "fim", "thinking", "json"],
      concurrency: 100,
      retries: { maxAttempts: 1 },
    });
    const [a, b] = [`a-${crypto.randomUUID().slice(0, 6)}`, `b-${crypto.randomUUID().slice(0, 6)}`];
    const policy = JSON.stringify({
      pools: { [a]: pool(a, failing.baseUrl), [b]: pool(b, sim.baseUrl) },
      routes: { chat: [a, b], code: [a, b], reasoning: [a, b] },
    });
    const { response, requestId } = await chat({}, chatBody(), { ROUTER_POLICY: policy });
    expect(response.status).toBe(200);
    const record = await recordOf(requestId);
    expect(record).toMatchObject({ pool: b, fallbacks: 1, outcome: "complete" });
    const steps = record.timeline
      .filter((e) => e.kind !== "admission")
      .map((e) => [e.kind, e.pool, e.status]);
    const fellBack = steps.findIndex(([kind]) => kind === "fallback");
    expect(fellBack).toBeGreaterThan(0);
    const before = steps.slice(0, fellBack);
    expect(before.every(([kind, p, status]) => kind === "attempt" && p === a && status === 500)).toBe(true);
    expect(steps.slice(fellBack, fellBack + 2)).toEqual([
      ["fallback", b, undefined],
      ["attempt", b, 200],
    ]);
  });

  it("a budget refusal, and a degrade to a cheaper model the budget allows", async () => {
    const estimate = async (model: string) => {
      const probe = await sim.call(CHAT, { json: chatBody({ model, max_tokens: 200 }) });
      return Number(probe.headers.get("x-router-class")?.match(/~\$([0-9.]+)/)?.[1]);
    };
    const [pro, flash] = [await estimate("deepseek-v4-pro"), await estimate("deepseek-v4-flash")];
    const budget = { usdPerDay: (pro + flash) / 2, lease: 0 };
    const body = chatBody({ model: "deepseek-v4-pro", max_tokens: 200 });

    const strict = await ownTenant({}, budget);
    const refused = await sim.call(CHAT, { key: strict.key, json: body }, { ROUTER_TENANTS: strict.tenants });
    expect(refused.status).toBe(402);
    expect(await recordsFor(strict.key, strict.tenants)).toMatchObject([
      {
        tenant: strict.id,
        status: 402,
        outcome: "rejected",
        errorCode: "budget_exhausted",
        askedModel: "deepseek-v4-pro",
      },
    ]);

    const lenient = await ownTenant({ allowDegrade: true }, budget);
    const served = await sim.call(
      CHAT,
      { key: lenient.key, json: body },
      { ROUTER_TENANTS: lenient.tenants },
    );
    expect(served.status).toBe(200);
    const [degraded] = await recordsFor(lenient.key, lenient.tenants);
    expect(degraded).toMatchObject({
      askedModel: "deepseek-v4-pro",
      model: "deepseek-v4-flash",
      degraded: "deepseek-v4-pro served by deepseek-v4-flash (budget)",
    });
    expect(degraded?.timeline.some((e) => e.kind === "degrade")).toBe(true);
  });

  it("a shed request, refused by admission", async () => {
    const slow = await createSim({ ttftMs: 400, tokensPerS: 0 });
    const vars = { ROUTER_POLICY: singlePoolPolicy(slow.baseUrl, { concurrency: 1 }) };
    const first = slow.call(CHAT, { json: chatBody() }, vars);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const requestId = `rq-${crypto.randomUUID()}`;
    const shed = await slow.call(
      CHAT,
      { json: chatBody(), headers: { "x-router-max-wait-ms": "0", "x-request-id": requestId } },
      vars,
    );
    expect(shed.status).toBe(429);
    await (await first).text();
    const record = await recordOf(requestId);
    expect(record).toMatchObject({ status: 429, outcome: "rejected" });
    expect(record.timeline.find((e) => e.kind === "admission")?.reason).toBeTruthy();
  });

  it("a stream with its first token, a coalesced follower, and a stream the client left", async () => {
    const body = chatBody({
      temperature: 0,
      stream: true,
      messages: [{ role: "user", content: uniquePrompt() }],
    });
    const [leader, follower] = await Promise.all([
      chat({ headers: { "x-request-id": `lead-${crypto.randomUUID()}` } }, body),
      chat({ headers: { "x-request-id": `follow-${crypto.randomUUID()}` } }, body),
    ]);
    const records: RequestRecord[] = [];
    await eventually(async () => {
      records.splice(0, 2, await recordOf(leader.requestId), await recordOf(follower.requestId));
    });
    const caches = records.map((r) => r.cache).sort();
    expect(caches).toEqual(["COALESCED", "MISS"]);
    const streamed = records.find((r) => r.cache === "MISS");
    expect(streamed).toMatchObject({ stream: true, outcome: "complete" });
    expect(streamed?.timeline.map((e) => e.kind)).toContain("first_token");
    // The answering attempt lasts as long as its call, to the stream's end, not to its first token.
    const served = streamed?.timeline.find((e) => e.kind === "attempt" && e.status === 200);
    const ended = (served?.atMs ?? 0) + (served?.durationMs ?? 0);
    expect(ended).toBeGreaterThanOrEqual(streamed?.firstTokenMs ?? Number.POSITIVE_INFINITY);
    expect(Math.abs(ended - (streamed?.latencyMs ?? 0))).toBeLessThan(0.02);

    const slow = await createSim({ ttftMs: 0, tokensPerS: 20 });
    const requestId = `left-${crypto.randomUUID()}`;
    const response = await slow.call(CHAT, {
      json: chatBody({ stream: true, max_tokens: 400 }),
      headers: { "x-request-id": requestId },
    });
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    await eventually(async () => {
      expect(await recordOf(requestId)).toMatchObject({ outcome: "cancelled", stream: true });
    }, 10_000);
  });
});

describe("request records of kept answers", () => {
  it("record a stored Response once, by its owner's request, under the Responses surface", async () => {
    const requestId = `kept-${crypto.randomUUID()}`;
    const created = await sim.call("/v1/responses", {
      json: { model: "deepseek-v4-flash", input: "Keep this answer.", store: true },
      headers: { "x-request-id": requestId },
    });
    expect(created.status).toBe(200);
    // The owner's request carries the caller's request id. The create only handed the call over: it
    // leaves no second record, and none that says it was refused.
    await eventually(async () => {
      expect(
        (await recordsOf(requestId)).data.map(({ surface, status, outcome }) => ({
          surface,
          status,
          outcome,
        })),
      ).toEqual([{ surface: "responses", status: 200, outcome: "complete" }]);
    });
  });
});

describe("request records of batch lines", () => {
  it("record a line run by the batch consumer, as surface batch", async () => {
    const batches = await capturedBatches("acme", MONDAY_OFF_PEAK);
    const openai = openaiClient();
    const batch = await submitBatch(openai, [chatLine("only", `records ${crypto.randomUUID()}`)], {
      schedule: "now",
    });
    const messages = await sentLines(batches.sent, batch.id, 1);
    const queued = createMessageBatch<LineMessage>(BATCH_QUEUE, [
      { id: "line-0", timestamp: new Date(), attempts: 1, body: messages[0] as LineMessage },
    ]);
    const ctx = createExecutionContext();
    await runBatchLines(queued, { ...env, DEEPSEEK_BASE_URL: sim.baseUrl }, ctx, worker.fetch);
    await waitOnExecutionContext(ctx);
    const requestId = `batch-${batch.id.slice("batch_".length)}-0`;
    expect(await recordOf(requestId)).toMatchObject({
      surface: "batch",
      status: 200,
      outcome: "complete",
      tenant: "acme",
    });
  });
});
