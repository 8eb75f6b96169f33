import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import OpenAI from "openai";
import { expect } from "vitest";
import worker from "../../src/index";
import type { LedgerEntry } from "../../src/ledger/entry";
import { ACME_KEY } from "../fixtures/tenants";

const ROUTER = "http://router.test";

export interface CallInit extends RequestInit {
  /** Router key; `null` sends no Authorization header. Defaults to the acme tenant's key. */
  key?: string | null;
  json?: unknown;
}

export function routerRequest(path: string, init: CallInit = {}): Request {
  const { key = ACME_KEY, json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (key !== null) headers.set("authorization", `Bearer ${key}`);
  if (json !== undefined) headers.set("content-type", "application/json");
  return new Request(`${ROUTER}${path}`, {
    method: json !== undefined ? "POST" : "GET",
    ...rest,
    headers,
    body: json !== undefined ? JSON.stringify(json) : rest.body,
  });
}

/** Calls the deployed entry point, exactly as a client would, against the shared simulator. */
export function callRouter(path: string, init: CallInit = {}): Promise<Response> {
  return exports.default.fetch(routerRequest(path, init));
}

export interface SimStats {
  requests: number;
  inFlight: number;
  peakInFlight: number;
  completed: number;
  aborted: number;
  rejected429: number;
  queued: number;
  promptTokens: number;
  byStatus: Record<string, number>;
  recent: Array<{ path: string; authorization?: string; acceptEncoding?: string; body?: unknown }>;
}

/** An isolated simulator instance with its own knobs and counters, and a router pointed at it. */
export interface SimInstance {
  baseUrl: string;
  stats(): Promise<SimStats>;
  configure(patch: Record<string, unknown>): Promise<void>;
  /** Calls the router with this instance as its upstream; waits for its background work too. */
  call(path: string, init?: CallInit, overrides?: Partial<Env> & Record<string, unknown>): Promise<Response>;
  /** Upstream requests go straight to the simulator, bypassing the router. */
  direct(path: string, init?: RequestInit): Promise<Response>;
}

/** Calls the router with `baseUrl` as its DeepSeek upstream; waits for its background work too. */
export async function callWithUpstream(
  baseUrl: string,
  path: string,
  init: CallInit = {},
  overrides: Partial<Env> & Record<string, unknown> = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    routerRequest(path, init),
    { ...env, DEEPSEEK_BASE_URL: baseUrl, ...overrides },
    ctx,
  );
  // A stream's background work (accounting, cache writes) is held open until the stream ends, so
  // waiting for it here would wait for a body nobody reads yet; tests of streams poll instead.
  if (response.headers.get("content-type")?.startsWith("text/event-stream")) return response;
  await waitOnExecutionContext(ctx);
  return response;
}

export async function createSim(options: Record<string, unknown> = {}): Promise<SimInstance> {
  const created = await fetch(`${env.DEEPSEEK_BASE_URL}/_sim/instances`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ttftMs: 0, tokensPerS: 0, ...options }),
  });
  if (created.status !== 201) throw new Error(`simulator refused an instance: ${await created.text()}`);
  const { id, baseUrl } = (await created.json()) as { id: string; baseUrl: string };
  const control = `${env.DEEPSEEK_BASE_URL}/_sim/instances/${id}`;
  return {
    baseUrl,
    async stats() {
      return (await (await fetch(`${control}/stats`)).json()) as SimStats;
    },
    async configure(patch) {
      const response = await fetch(control, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(patch),
      });
      if (!response.ok) throw new Error(`simulator refused configuration: ${await response.text()}`);
    },
    call(path, init = {}, overrides = {}) {
      return callWithUpstream(baseUrl, path, init, overrides);
    },
    direct(path, init = {}) {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${env.DEEPSEEK_API_KEY}`);
      return fetch(`${baseUrl}${path}`, { ...init, headers });
    },
  };
}

/** A one-pool policy for `model` at `baseUrl`, with any pool fields overridden: for tests that need their own knobs. */
export function singlePoolPolicy(
  baseUrl: string,
  pool: Record<string, unknown> = {},
  name = `pool-${crypto.randomUUID().slice(0, 8)}`,
): string {
  return JSON.stringify({
    pools: {
      [name]: {
        provider: "deepseek",
        targets: [{ name: "deepseek", baseUrl, keySecret: "DEEPSEEK_API_KEY" }],
        models: { "deepseek-v4-flash": "deepseek-v4-flash" },
        capabilities: ["tools", "fim", "thinking", "json"],
        concurrency: 100,
        ...pool,
      },
    },
    routes: { chat: [name], code: [name], reasoning: [name] },
  });
}

/** Answers are 60 tokens; the first request is paced at 20 tokens/s (3 s), later ones are instant. */
export const SLOW_FIRST = {
  minAnswerTokens: 60,
  maxAnswerTokens: 60,
  faultScript: [{ kind: "slow", tokensPerS: 20 }],
};

/**
 * A simulator answering {@link SLOW_FIRST}, and a one-slot pool over it that neither retries nor
 * adapts its limit: a first stream holds the only slot for 3 s.
 */
export async function slowFirstOneSlot(): Promise<{ sim: SimInstance; policy: string }> {
  const sim = await createSim(SLOW_FIRST);
  const policy = singlePoolPolicy(sim.baseUrl, {
    concurrency: 1,
    retries: { max: 0 },
    admission: { adaptive: false },
  });
  return { sim, policy };
}

export function chatBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: "deepseek-v4-flash",
    messages: [{ role: "user", content: "Say hello to the router." }],
    thinking: { type: "disabled" },
    ...overrides,
  };
}

/** Reads an SSE body into its `data:` payloads (comments dropped). */
export async function readSse(response: Response): Promise<string[]> {
  const text = await response.text();
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("data:"))
    .map((block) => block.slice(block.startsWith("data: ") ? 6 : 5));
}

export async function errorOf(
  response: Response,
): Promise<{ message: string; type: string; param: string | null; code: string }> {
  const body = (await response.json()) as {
    error: { message: string; type: string; param: string | null; code: string };
  };
  return body.error;
}

/** A `fetch` that reaches the router with `baseUrl` as upstream: what SDK clients are given in tests. */
export function routerFetch(baseUrl: string): typeof fetch {
  return async (input, init) => {
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(input, init),
      { ...env, DEEPSEEK_BASE_URL: baseUrl },
      ctx,
    );
    return response;
  };
}

/** The ledger row of a request, once its accounting has landed (it is written off the response path). */
export async function ledgerEntry(requestId: string, tenant = "acme"): Promise<LedgerEntry> {
  let found: LedgerEntry | null = null;
  await eventually(async () => {
    found = await env.TENANT_LEDGER.getByName(tenant).entry(requestId);
    expect(found).not.toBeNull();
  });
  if (!found) throw new Error(`no ledger row for ${requestId}`);
  return found;
}

/** Retries `check` until it passes or `timeoutMs` runs out; for state that settles asynchronously. */
export async function eventually(check: () => Promise<void>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/** A ledger row for tests that write the ledger directly; `over` overrides any field. */
export function ledgerRow(requestId: string, at: number, over: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    entryId: crypto.randomUUID(),
    kind: "request",
    requestId,
    at,
    model: "deepseek-v4-flash",
    pool: "deepseek-flash",
    status: 200,
    outcome: "complete",
    cache: null,
    usage: {
      promptTokens: 100,
      completionTokens: 10,
      cacheHitTokens: 0,
      cacheMissTokens: 100,
      reasoningTokens: 0,
    },
    estimated: false,
    costUsd: 0.5,
    savedUsd: 0,
    keyId: null,
    endUser: null,
    ...over,
  };
}

/** The official `openai` client against the router, with `upstream` (the shared simulator by default) behind it. */
export function openaiClient(key: string = ACME_KEY, upstream: string = env.DEEPSEEK_BASE_URL): OpenAI {
  return new OpenAI({
    apiKey: key,
    baseURL: "http://router.test/v1",
    fetch: routerFetch(upstream),
    maxRetries: 0,
  });
}
