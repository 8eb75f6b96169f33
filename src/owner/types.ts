import type { EndUser } from "../env";
/** Which wire format an owned stream speaks: Responses events, or chat-completion chunks ending in `[DONE]`. */
export type OwnedKind = "responses" | "chat";

/** A Response object's status (OpenAI's values); a chat stream uses the same words. */
export type OwnedStatus = "queued" | "in_progress" | "completed" | "incomplete" | "failed" | "cancelled";

export const FINAL_STATUSES: ReadonlySet<OwnedStatus> = new Set([
  "completed",
  "incomplete",
  "failed",
  "cancelled",
]);

/**
 * Who asks an owner for its answer: a tenant's server key reads every answer the tenant kept; a
 * frontend token (its verified end user) only those kept under that end user's own tokens.
 */
export interface OwnedReader {
  tenant: string;
  endUser?: string;
}

/**
 * What a `previous_response_id` finds in its owner: the conversation to continue (JSON text of one item
 * list), or the status of a Response that has none to continue from (still running, failed, cancelled).
 */
export type OwnedConversation = { ok: true; items: string } | { ok: false; status: OwnedStatus };

/**
 * How the pipeline first answered an owned call: with events (or a commit to them, while it queues),
 * or with a refusal before any: its status, headers and error body, as a plain request would get them.
 */
export type OwnedOpening = { kind: "answering" } | OwnedRefusal;
export type OwnedRefusal = { kind: "refused"; status: number; headers: Record<string, string>; body: string };

/** What one kept event stream may use (docs/ARCHITECTURE.md, "Answers that outlive the connection"). */
export interface OwnedBounds {
  /** Size cap of the kept events, in bytes of their data: past it the call is stopped and fails. */
  maxBytes: number;
  /** How long the answer is kept after it was created; then it is deleted. */
  ttlMs: number;
}

/** Configuration of the invocation that accepted the call, which the owner runs it under. */
export interface OwnedConfig {
  DEEPSEEK_BASE_URL?: string;
  ROUTER_POLICY?: string;
}

/** Everything the owner needs to run a call through the app as its tenant, and keep its answer. */
export interface OwnedCall {
  /** Router-minted, unguessable: `resp_…` or `chatstream_…`. */
  id: string;
  tenant: string;
  /** The managed key the caller used, if any: its limits and budgets apply to the owner's request too. */
  keyId: string | null;
  /** The verified end user of a frontend token: the call spends that user's limits too. */
  endUser?: EndUser;
  kind: OwnedKind;
  /** The app path the call is sent to in-process. */
  path: string;
  /** The stateless request, always with `stream: true`: the owner keeps events, not a JSON body. */
  body: string;
  /** The caller's routing headers (x-router-*, x-request-id), passed on unchanged. */
  headers: Record<string, string>;
  /** Fields the Response object echoes that DeepSeek does not keep (background, store, previous_response_id). */
  echo: Record<string, string | boolean | null>;
  /** Responses: the whole conversation sent (previous turns expanded), JSON text, kept for `previous_response_id`. */
  input: string;
  /**
   * Responses: how many of `input`'s items are this request's own (the rest are the turns it
   * continues), for `GET /v1/responses/{id}/input_items`. Absent for chat streams, and for answers kept
   * before it was.
   */
  ownItems?: number;
  model: string;
  bounds: OwnedBounds;
  config: OwnedConfig;
}

/** An owned answer's state as a reader sees it. */
export interface OwnedSnapshot {
  id: string;
  kind: OwnedKind;
  status: OwnedStatus;
  /** Events kept so far; the last one's sequence number is `events - 1`. */
  events: number;
  bytes: number;
  /** Responses: the current Response object, JSON text. */
  response?: string;
  error?: { code: string; message: string };
}
