import { type Context, Hono } from "hono";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { parseEnumHeader } from "../headers";
import { timelineOf } from "../observe/recorder";
import {
  admitKept,
  checkKeptSize,
  configOf,
  eventStream,
  keptSettings,
  lastSeen,
  newAnswerId,
  ownerOf,
  routingHeaders,
} from "../owner/calls";
import type { OwnedCall, OwnedSnapshot } from "../owner/types";
import { refuseIfSpent } from "../tenancy/balance";
import { scopesOf } from "../tenancy/enforce";

/** Opts a streamed chat request in (`on`) or out (`off`) of being kept, whatever the tenant's default. */
export const RESUMABLE_HEADER = "x-router-resumable";
/** The id a client resumes a kept chat stream by. */
export const STREAM_ID_HEADER = "x-router-stream-id";
/** `GET …/{id}/stream` resumes a kept chat stream after `Last-Event-ID`. */
export const RESUME_PATHS = ["/v1/chat/completions/:id/stream", "/chat/completions/:id/stream"];

/** Whether this streamed chat request is kept by an owner rather than tied to its connection. */
export function wantsResumable(c: Context<AppEnv>, stream: boolean | null | undefined): boolean {
  // Checked even when not streamed, like the other switches: a typo must not pass unnoticed.
  const asked = parseEnumHeader(c.req.header(RESUMABLE_HEADER), ["on", "off"], RESUMABLE_HEADER);
  if (stream !== true) return false;
  if (asked === "on") return true;
  if (asked === "off") return false;
  return c.get("tenant").resumableStreams === true;
}

/**
 * An opted-in chat stream (issue 24): its owner runs it through the app, keeps every chunk, and the
 * caller follows it, with an `id:` line per event. When the caller leaves, only its reading stops; the
 * answer runs on (bounded by the request's deadline and the tenant's budget) and stays resumable for
 * the chat window. Without opting in, a departed client still aborts the upstream call.
 */
export async function serveResumable(
  c: Context<AppEnv>,
  path: string,
  raw: string | Uint8Array,
): Promise<Response> {
  const rawBody = typeof raw === "string" ? raw : new TextDecoder().decode(raw);
  const tenant = c.get("tenant").id;
  const settings = keptSettings(c.env);
  const id = newAnswerId("chatstream");
  const body = JSON.parse(rawBody) as { model?: unknown };
  const call: OwnedCall = {
    id,
    tenant,
    keyId: c.get("routerKey")?.id ?? null,
    endUser: c.get("endUser"),
    kind: "chat",
    path,
    body: rawBody,
    headers: routingHeaders(c.req.raw.headers, { "x-request-id": id }),
    echo: {},
    input: "[]",
    model: typeof body.model === "string" ? body.model : "",
    bounds: { maxBytes: settings.maxBytes, ttlMs: settings.chatTtlMs },
    config: configOf(c.env),
  };
  const { owner } = await startKept(c, call);
  const stream = await owner.follow(tenant, -1);
  if (!stream) throw notKept();
  return eventStream(stream, { [STREAM_ID_HEADER]: id });
}

/**
 * Hands a call to a new owner once it fits: its size, a budget not yet spent (402 now, rather than a
 * stream or object that fails: the gate would refuse its call anyway), and the tenant's quota.
 */
export async function startKept(
  c: Context<AppEnv>,
  call: OwnedCall,
): Promise<{ owner: ReturnType<typeof ownerOf>; started: OwnedSnapshot }> {
  checkKeptSize(call);
  const scopes = scopesOf(c.get("tenant"), c.get("routerKey"), c.get("endUser"));
  const spend = { authorities: c.env.SPEND_AUTHORITY, scopes, policy: c.get("policy"), now: Date.now() };
  await refuseIfSpent(spend, "no answer can be kept on it");
  const settings = keptSettings(c.env);
  await admitKept(c.env, call.tenant, call.id, Date.now() + call.bounds.ttlMs, settings.quota);
  const owner = ownerOf(c.env, call.tenant, call.id);
  const started = await owner.start(call);
  // The owner's own request through the pipeline records the call (issue 25): this one, which only
  // handed it over, is not recorded again as a refusal.
  timelineOf(c).accounted = true;
  return { owner, started };
}

function notKept(): RouterError {
  return new RouterError(
    "not_found",
    "No such stream: it was not opted in, its window has passed, or it belongs to another tenant.",
  );
}

export const resumable = new Hono<AppEnv>();

for (const path of RESUME_PATHS) {
  resumable.get(path, async (c) => {
    const id = c.req.param("id") ?? "";
    if (!id.startsWith("chatstream_")) throw notKept();
    const tenant = c.get("tenant").id;
    const after = lastSeen(c.req.header("last-event-id"), "Last-Event-ID");
    const stream = await ownerOf(c.env, tenant, id).follow(tenant, after);
    if (!stream) throw notKept();
    return eventStream(stream, { [STREAM_ID_HEADER]: id });
  });
}
