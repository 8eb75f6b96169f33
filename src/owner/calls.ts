import { RouterError } from "../errors";
import type { AnswerQuota } from "./tenant-answers";
import type { OwnedCall } from "./types";

/** What kept answers may use, from the Worker's vars (wrangler.toml documents the defaults). */
export interface KeptSettings {
  /** Size cap of one kept event stream, bytes. */
  maxBytes: number;
  /** Retention of a stored or background Response. */
  responseTtlMs: number;
  /** How long a resumable chat stream is kept after it started (its window to come back). */
  chatTtlMs: number;
  quota: AnswerQuota;
}

interface KeptVars {
  KEPT_MAX_BYTES?: string;
  KEPT_RESPONSE_TTL_S?: string;
  KEPT_CHAT_TTL_S?: string;
  KEPT_MAX_PER_TENANT?: string;
  KEPT_QUOTA_BYTES?: string;
}

function positive(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : fallback;
}

export function keptSettings(env: KeptVars): KeptSettings {
  return {
    maxBytes: positive(env.KEPT_MAX_BYTES, 4 * 1024 * 1024),
    responseTtlMs: positive(env.KEPT_RESPONSE_TTL_S, 7 * 86_400) * 1000,
    chatTtlMs: positive(env.KEPT_CHAT_TTL_S, 1_800) * 1000,
    quota: {
      maxCount: positive(env.KEPT_MAX_PER_TENANT, 1_000),
      maxBytes: positive(env.KEPT_QUOTA_BYTES, 256 * 1024 * 1024),
    },
  };
}

/** A SQLite value holds at most 2 MB; the kept call (request and expanded conversation) is one. */
const MAX_CALL_CHARS = 1_900_000;

/** Refuses a call too large to keep, before anything is counted or started. */
export function checkKeptSize(call: OwnedCall): void {
  const size = JSON.stringify(call).length;
  if (size > MAX_CALL_CHARS)
    throw new RouterError(
      "payload_too_large",
      `A kept request, with the conversation it continues, may be at most ${MAX_CALL_CHARS} characters; this one is ${size}. Start a new conversation, or send it without store/background.`,
    );
}

/** The owner of a tenant's answer: named by tenant and id, so another tenant's id names an empty object. */
export function ownerOf(env: Env, tenant: string, id: string) {
  return env.STREAM_OWNER.getByName(`${tenant}/${id}`);
}

/** An unguessable id: 128 random bits. */
export function newAnswerId(prefix: "resp" | "chatstream"): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "")}`;
}

/** Counts the answer against its tenant's quota, or refuses it with a clear 429. */
export async function admitKept(env: Env, tenant: string, id: string, expiresAt: number, quota: AnswerQuota) {
  const admission = await env.TENANT_ANSWERS.getByName(tenant).admit(id, expiresAt, quota);
  if (admission.ok) return;
  const what =
    admission.reason === "count"
      ? `${admission.count} kept answers (the limit is ${quota.maxCount})`
      : `${admission.bytes} bytes of kept answers (the quota is ${quota.maxBytes})`;
  throw new RouterError(
    "kept_answers_quota",
    `This tenant already keeps ${what}. Delete some (DELETE /v1/responses/{id}) or wait for them to expire.`,
  );
}

/** The caller's routing headers, passed on to the owner's in-process request. */
export function routingHeaders(
  headers: Headers,
  defaults: Record<string, string> = {},
): Record<string, string> {
  const out: Record<string, string> = { ...defaults };
  for (const [name, value] of headers) {
    if ((name.startsWith("x-router-") && name !== "x-router-resumable") || name === "x-request-id")
      out[name] = value;
  }
  return out;
}

/** A kept stream as the caller's SSE response. */
export function eventStream(
  stream: ReadableStream<Uint8Array>,
  headers: Record<string, string> = {},
): Response {
  return new Response(stream, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...headers },
  });
}

/** `starting_after` / `Last-Event-ID`: the last sequence number the client has, or -1 for none. */
export function lastSeen(value: string | undefined, param: string): number {
  if (value === undefined || value === "") return -1;
  if (!/^\d{1,9}$/.test(value))
    throw new RouterError("invalid_request", `'${param}' must be a sequence number (a whole number ≥ 0).`, {
      param,
    });
  return Number(value);
}

/** The owner runs the call under the configuration of the invocation that accepted it. */
export function configOf(env: Env): OwnedCall["config"] {
  const { DEEPSEEK_BASE_URL, ROUTER_POLICY } = env as Env & { ROUTER_POLICY?: string };
  return { DEEPSEEK_BASE_URL, ...(ROUTER_POLICY ? { ROUTER_POLICY } : {}) };
}
