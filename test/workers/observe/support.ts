import { env } from "cloudflare:workers";
import { vi } from "vitest";
import type { CompletionRecord } from "../../../src/observe/log";
import type { ObserveVars } from "../../../src/observe/settings";
import { type CallInit, callWithUpstream } from "../helpers";

export const ADMIN_KEY = "sk-admin-test-metrics-000000000000";

/**
 * Collects the router's completion log lines into `into` from now until the mocks are restored; every
 * other console line is printed as usual.
 */
export function collectCompletionLogs(into: CompletionRecord[]): void {
  const log = console.log;
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    const line = args[0];
    if (typeof line === "string" && line.startsWith('{"event":"completion"')) into.push(JSON.parse(line));
    else log(...args);
  });
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Calls an operator endpoint with the admin key configured (and presented, unless `init.key` says otherwise). */
export async function asOperator(
  baseUrl: string,
  path: string,
  init: CallInit = {},
  overrides: Record<string, unknown> = {},
): Promise<Response> {
  return callWithUpstream(
    baseUrl,
    path,
    { key: ADMIN_KEY, ...init },
    { ROUTER_ADMIN_KEY: await sha256Hex(ADMIN_KEY), ...overrides },
  );
}

/** The alerts the loopback receiver accepted (or, with `refused`, failed on purpose) whose body contains `match`. */
export async function deliveredAlerts(
  match: string,
  refused = false,
): Promise<Array<{ id: string; body: string; path: string; authorization?: string }>> {
  const hooks = hooksOrigin();
  const list = refused ? "refused" : "received";
  const response = await fetch(`${hooks}/_control/${list}?match=${encodeURIComponent(match)}`);
  return response.json();
}

/** Makes the receiver fail the next `times` deliveries whose body contains `match`. */
export async function failDeliveries(match: string, times: number): Promise<void> {
  const hooks = hooksOrigin();
  await fetch(`${hooks}/_control/fail`, { method: "POST", body: JSON.stringify({ match, times }) });
}

/** Where the vitest config points ALERT_WEBHOOK_URL: the loopback receiver of the global setup. */
function hooksOrigin(): string {
  return new URL((env as Env & ObserveVars).ALERT_WEBHOOK_URL ?? "").origin;
}
