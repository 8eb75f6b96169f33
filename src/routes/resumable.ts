import { type Context, Hono } from "hono";
import { COMMIT_QUEUED_AFTER_MS } from "../admission/gate";
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
import type { OwnedCall, OwnedOpening, OwnedReader, OwnedSnapshot } from "../owner/types";
import { refuseIfSpent } from "../tenancy/balance";
import { scopesOf } from "../tenancy/enforce";
import { within } from "../timing";

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
  // The owner's own run of a kept stream comes back through this route (as may a batch line): it is
  // the kept stream, never kept again, or a tenant kept by default would nest owners without end.
  if (c.get("ledgerKey") !== undefined) return false;
  // A kept stream is resumed with a server key (the resume path acts for the tenant): a page could
  // never read one back, yet it would hold a place in the tenant's quota of kept answers.
  if (c.get("endUser")) {
    if (asked === "on")
      throw new RouterError(
        "frontend_token_not_allowed",
        `${RESUMABLE_HEADER}: on keeps a stream for a server key to resume; a frontend token cannot resume it.`,
      );
    return false;
  }
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
  const refusal = await refusedAtOpening(c, owner);
  if (refusal) return refusal;
  const stream = await owner.follow(readerOf(c), -1);
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

/**
 * How long a kept call's caller waits for the pipeline's first answer before it is sent the answer's id
 * and follows its events: as long as a plain stream waits in a queue before it commits. Refusals (a
 * shed, a spent budget, a limit) come well within it; a slow first token does not hold the id back.
 */
const OPENING_WAIT_MS = COMMIT_QUEUED_AFTER_MS;

/**
 * A kept call the pipeline refused before it produced anything, as the caller's answer: the status,
 * Retry-After and error a plain request gets, so the SDKs retry a 429 as they would any other, instead
 * of a 200 whose stream holds only an error. The answer is deleted: its id was never handed out, and
 * it must not count against the tenant's quota. Undefined when the call is answering, or has not
 * answered within {@link OPENING_WAIT_MS}: its events then follow, a later refusal among them. A
 * caller that left while waiting takes the call along.
 */
export async function refusedAtOpening(
  c: Context<AppEnv>,
  owner: ReturnType<typeof ownerOf>,
): Promise<Response | undefined> {
  const reader = readerOf(c);
  // Wrapped: the stub's promise is a union of RPC promise types that `within` cannot take as one. A
  // broken owner is not told here: it shows in the follow that comes next.
  const asked = (async (): Promise<OwnedOpening | null> => owner.opening(reader))().catch(() => null);
  const opening = await within(asked, OPENING_WAIT_MS);
  if (opening?.kind !== "refused" && !c.req.raw.signal.aborted) return undefined;
  await owner.remove(reader);
  if (opening?.kind !== "refused") throw new RouterError("upstream_error", "The client went away.");
  const headers = new Headers(opening.headers);
  // The caller's own request id and trace are set on the way out; the owner's request had its own.
  for (const name of ["x-request-id", "traceparent", "content-length"]) headers.delete(name);
  return new Response(opening.body, { status: opening.status, headers });
}

/** The caller as an owner knows it: its tenant, and its end user when it holds a frontend token. */
export function readerOf(c: Context<AppEnv>): OwnedReader {
  const endUser = c.get("endUser")?.id;
  return endUser === undefined ? { tenant: c.get("tenant").id } : { tenant: c.get("tenant").id, endUser };
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
    const stream = await ownerOf(c.env, tenant, id).follow(readerOf(c), after);
    if (!stream) throw notKept();
    return eventStream(stream, { [STREAM_ID_HEADER]: id });
  });
}
