import type { InferenceCall } from "../classify/classify";

/**
 * The end user's id as everything past authentication sees it: a keyed hash of (tenant, sub), stable
 * for as long as `FRONTEND_USER_ID_SECRET` is, and not reversible without it. The raw `sub` is never
 * logged, stored or sent upstream. Without the secret the hash is keyed with a public constant: still
 * stable and one-way, but a guessable `sub` (an email) could be confirmed by anyone who hashes it.
 */
export async function endUserId(env: object, tenantId: string, sub: string): Promise<string> {
  const key = await hashKey(env);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${tenantId}\u0000${sub}`));
  return `u_${base64url(new Uint8Array(mac).slice(0, 18))}`;
}

let memo: { secret: string; key: Promise<CryptoKey> } | undefined;

function hashKey(env: object): Promise<CryptoKey> {
  const raw = Reflect.get(env, "FRONTEND_USER_ID_SECRET");
  const secret = typeof raw === "string" && raw !== "" ? raw : "deepseek-router/end-user-id";
  if (memo?.secret !== secret) {
    const key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    memo = { secret, key };
  }
  return memo.key;
}

/**
 * The call as it goes upstream for a verified end user: every body field through which a caller names
 * its end user (`user`, `safety_identifier`, `metadata.user_id`) carries the end user's id instead, and
 * DeepSeek's own field is set (`user_id` on chat and FIM, `metadata.user_id` on Messages), so what a
 * page wrote there neither reaches DeepSeek nor counts anywhere.
 */
export function callAsEndUser(call: InferenceCall, userId: string): InferenceCall {
  if (call.surface) {
    const body = overwritten(call.surface.body, userId, call.surface.endpoint === "messages");
    return { ...call, surface: { ...call.surface, body }, rawBody: JSON.stringify(body) };
  }
  const body = { ...overwritten(call.request.body, userId, false), user_id: userId };
  return {
    ...call,
    request: { ...call.request, body } as InferenceCall["request"],
    rawBody: JSON.stringify(body),
  };
}

function overwritten(body: Record<string, unknown>, userId: string, metadataAlways: boolean) {
  const out: Record<string, unknown> = { ...body };
  if ("user" in body) out.user = userId;
  if ("safety_identifier" in body) out.safety_identifier = userId;
  const metadata = body.metadata;
  const isObject = typeof metadata === "object" && metadata !== null && !Array.isArray(metadata);
  if (isObject && ("user_id" in metadata || metadataAlways)) out.metadata = { ...metadata, user_id: userId };
  else if (metadataAlways) out.metadata = { user_id: userId };
  return out;
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
