import type { AnonymousConfig } from "../config/frontend";
import { RouterError } from "../errors";

export const SITEVERIFY_URL = "https://challenges.cloudflare.com/turnstile/v0/siteverify";

/** What siteverify answered that the session endpoint acts on. */
export interface Siteverify {
  success: boolean;
  hostname?: string;
  "error-codes"?: string[];
}

/**
 * Checks a Turnstile token with siteverify (one round trip, at mint time only): `TURNSTILE_SITEVERIFY_URL`
 * overrides Cloudflare's URL (tests point it at a loopback fake). Turnstile tokens are single use.
 */
export async function verifyTurnstile(args: {
  env: object;
  config: AnonymousConfig;
  token: string;
  remoteIp: string | undefined;
}): Promise<void> {
  const secret = Reflect.get(args.env, args.config.turnstileSecret);
  if (typeof secret !== "string" || secret === "") {
    throw new RouterError("configuration_error", "Anonymous sessions are misconfigured (Turnstile secret).");
  }
  const url = Reflect.get(args.env, "TURNSTILE_SITEVERIFY_URL");
  const form = new URLSearchParams({ secret, response: args.token, idempotency_key: crypto.randomUUID() });
  if (args.remoteIp) form.set("remoteip", args.remoteIp);
  let answer: Siteverify;
  try {
    const response = await fetch(typeof url === "string" && url !== "" ? url : SITEVERIFY_URL, {
      method: "POST",
      body: form,
      signal: AbortSignal.timeout(5_000),
    });
    answer = (await response.json()) as Siteverify;
  } catch (error) {
    throw new RouterError("upstream_unavailable", "Turnstile cannot be reached right now; retry shortly.", {
      headers: { "retry-after": "2" },
      cause: error,
    });
  }
  checkVerdict(answer, args.config.hostnames);
}

/** Pure: siteverify's answer as the caller's error. */
export function checkVerdict(answer: Siteverify, hostnames: readonly string[]): void {
  if (!answer.success) {
    const codes = answer["error-codes"] ?? [];
    const why = codes.includes("timeout-or-duplicate")
      ? "the Turnstile token was already used or has expired: solve the challenge again"
      : `Turnstile refused the token (${codes.join(", ") || "no reason given"})`;
    throw new RouterError("turnstile_failed", `Anonymous session refused: ${why}.`, {
      param: "turnstile_token",
    });
  }
  if (!answer.hostname || !hostnames.includes(answer.hostname)) {
    throw new RouterError(
      "turnstile_failed",
      `Anonymous session refused: the challenge was solved on '${answer.hostname ?? "?"}', not a hostname of this tenant.`,
      { param: "turnstile_token" },
    );
  }
}
