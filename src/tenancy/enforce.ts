import type { Classification } from "../classify/classify";
import { DEFAULT_LEASE, type Limits } from "../config/limits";
import { RouterError } from "../errors";
import { retryAfter } from "../headers";
import type { KeyGrant } from "./key-registry";
import {
  type BudgetKind,
  type CounterAsk,
  resetDuration,
  type SpendAnswer,
  scopeOf,
  windowOf,
} from "./spend";
import type { SpendAuthority } from "./spend-authority";
import { IDLE_RETURN_MS, type Lend, type Need, SpendHolder } from "./spend-holder";

/** The limits in force for a request: its tenant's, narrowed by its managed key's. */
export interface LimitScopes {
  tenant: { id: string; limits: Limits; alertWebhook?: string };
  key?: Pick<KeyGrant, "id" | "limits">;
  /** The end user of a frontend token (issue 23): counted per (tenant, user) in the tenant's authority. */
  user?: { id: string; limits: Limits };
}

const FIELDS: Record<BudgetKind, "requestsPerMinute" | "tokensPerMinute" | "usdPerDay" | "usdPerMonth"> = {
  requests: "requestsPerMinute",
  tokens: "tokensPerMinute",
  "usd-day": "usdPerDay",
  "usd-month": "usdPerMonth",
};

export function scopesOf(
  tenant: { id: string; limits?: Limits; alertWebhook?: string },
  key?: Pick<KeyGrant, "id" | "limits">,
  user?: { id: string; limits: Limits },
): LimitScopes {
  return {
    tenant: { id: tenant.id, limits: tenant.limits ?? {}, alertWebhook: tenant.alertWebhook },
    key,
    user,
  };
}

/** The narrowest of a tenant's, a key's and an end user's limits, field by field. */
export function effectiveLimits({ tenant, key, user }: LimitScopes): Limits {
  const limits = key ? narrower(tenant.limits, key.limits) : tenant.limits;
  return user ? narrower(limits, user.limits) : limits;
}

function narrower(a: Limits, b: Limits): Limits {
  const min = (x?: number, y?: number) => (x === undefined ? y : y === undefined ? x : Math.min(x, y));
  const both = (x?: string[], y?: string[]) => (x && y ? x.filter((item) => y.includes(item)) : (x ?? y));
  return {
    requestsPerMinute: min(a.requestsPerMinute, b.requestsPerMinute),
    tokensPerMinute: min(a.tokensPerMinute, b.tokensPerMinute),
    usdPerDay: min(a.usdPerDay, b.usdPerDay),
    usdPerMonth: min(a.usdPerMonth, b.usdPerMonth),
    maxTokens: min(a.maxTokens, b.maxTokens),
    models: both(a.models, b.models),
    origins: both(a.origins, b.origins),
    lease: a.lease,
  };
}

/**
 * 400 for a `max_tokens` (or `max_completion_tokens`) above the cap; a request without one is given the
 * cap, so the cap holds upstream. `field`: what the caller's surface calls `max_tokens` (the Responses
 * API's `max_output_tokens`), which the refusal names, as the caller sent it.
 */
export function capMaxTokens(
  body: Record<string, unknown>,
  limits: Limits,
  field = "max_tokens",
): Record<string, unknown> | undefined {
  const cap = limits.maxTokens;
  if (cap === undefined) return undefined;
  // `max_completion_tokens` (OpenAI's newer name, passed through) is held to the same cap.
  for (const name of ["max_tokens", "max_completion_tokens"]) {
    const value = body[name];
    if (typeof value === "number" && value > cap) {
      const param = name === "max_tokens" ? field : name;
      throw new RouterError("invalid_request", `${param} is ${value}; this key allows at most ${cap}.`, {
        param,
      });
    }
  }
  const asked = body.max_tokens;
  return asked === undefined || asked === null ? { ...body, max_tokens: cap } : undefined;
}

/** 403 unless the model asked for (by name, resolved name or type) is on the allowlist. */
export function checkModel(classification: Classification, asked: unknown, limits: Limits): void {
  const allowed = limits.models;
  if (!allowed) return;
  const names = [String(asked), classification.model, classification.type];
  if (names.some((name) => allowed.includes(name))) return;
  throw new RouterError(
    "model_not_allowed",
    `Model '${String(asked)}' (${classification.type}) is not allowed for this key; allowed: ${allowed.join(", ")}.`,
    { param: "model" },
  );
}

/** 403 for a browser request from an origin the key does not allow; requests without `Origin` pass. */
export function checkOrigin(origin: string | undefined, limits: Limits): void {
  if (origin === undefined || !limits.origins || limits.origins.includes(origin)) return;
  throw new RouterError("origin_not_allowed", `Origin '${origin}' may not use this key.`);
}

/** A request's reservation on its tenant's budgets, settled once when it ends. */
export interface Spend {
  /** OpenAI's `x-ratelimit-*` headers, as this isolate knows them after the reservation. */
  headers: Record<string, string>;
  /** The request's real tokens and dollars (attempts included); the difference is given back or charged. */
  settle(tokens: number, usd: number): void;
}

/** This isolate's holders, one per tenant. */
const isolateHolders = new Map<string, SpendHolder>();

/**
 * Reserves one request, its estimated tokens and its estimated dollars on every counter the tenant
 * and key limit: from this isolate's blocks with no round trip when they cover it, otherwise with one
 * call to the tenant's authority (which refills the blocks). Refused: 429 for a minute limit, 402 for
 * a dollar budget (429 `budget_reserved` when what is left is only held by requests in flight or as
 * isolates' spare). Nothing is reserved when nothing is limited.
 */
export async function reserveSpend(args: {
  authorities: DurableObjectNamespace<SpendAuthority>;
  scopes: LimitScopes;
  classification: Pick<Classification, "promptTokens" | "outputTokens" | "estimatedCostUsd">;
  now: number;
  waitUntil: (work: Promise<unknown>) => void;
  /** Tests stand in for other isolates with their own; otherwise this isolate's. */
  holders?: Map<string, SpendHolder>;
}): Promise<Spend | undefined> {
  const { scopes, classification, now } = args;
  const estimate: Record<BudgetKind, number> = {
    requests: 1,
    tokens: classification.promptTokens + classification.outputTokens,
    "usd-day": classification.estimatedCostUsd,
    "usd-month": classification.estimatedCostUsd,
  };
  const needs = needsOf(scopes, estimate, now);
  if (needs.length === 0) return undefined;
  const holder = holderOf(
    args.holders ?? isolateHolders,
    scopes.tenant.id,
    scopes.tenant.limits.lease ?? DEFAULT_LEASE,
  );
  const owner = { tenant: scopes.tenant.id, alertWebhook: scopes.tenant.alertWebhook };
  const lend: Lend = (asks) => args.authorities.getByName(scopes.tenant.id).lend(asks, owner, holder.id);
  refuseSpentUser(needs, holder, now);
  const missing = holder.take(needs, now);
  if (missing.some((units) => units > 0)) {
    const answer = await holder.fill(needs, missing, lend).catch((error: unknown) => {
      // Fail closed: a budget that cannot be checked is not spent.
      throw new RouterError(
        "admission_unavailable",
        "This tenant's limits cannot be checked right now; retry shortly.",
        { headers: retryAfter(1_000), cause: error },
      );
    });
    if (!answer.ok) throw refusal(answer, needs, holder, now);
  }
  let settled = false;
  return {
    headers: rateHeaders(needs, holder, now),
    settle(tokens, usd) {
      if (settled) return;
      settled = true;
      const real: Record<BudgetKind, number> = { requests: 1, tokens, "usd-day": usd, "usd-month": usd };
      const due = holder.settle(
        needs,
        needs.map((need) => real[need.kind]),
      );
      send(holder, due, lend, args.waitUntil);
      if (holder.idle()) args.waitUntil(returnWhenIdle(holder, lend, args.waitUntil));
    },
  };
}

/**
 * The `x-ratelimit-*` headers as this isolate knows them, reserving nothing: for answers that count
 * against no limit (a cache hit), which still tell a pacing caller where it stands.
 */
export function rateLimitView(scopes: LimitScopes, now: number): Record<string, string> {
  const counters = countersOf(scopes, now);
  if (counters.length === 0) return {};
  const holder = holderOf(isolateHolders, scopes.tenant.id, scopes.tenant.limits.lease ?? DEFAULT_LEASE);
  return rateHeaders(counters, holder, now);
}

/** What each counter of the tenant (and key) has used of its current window, and its limit. */
export function countersOf(scopes: LimitScopes, now: number): Need[] {
  return needsOf(scopes, { requests: 0, tokens: 0, "usd-day": 0, "usd-month": 0 }, now);
}

function needsOf(scopes: LimitScopes, estimate: Record<BudgetKind, number>, now: number): Need[] {
  const needs: Need[] = [];
  const scoped: Array<[string, Limits]> = [["tenant", scopes.tenant.limits]];
  if (scopes.key) scoped.push([scopes.key.id, scopes.key.limits]);
  if (scopes.user) scoped.push([`user:${scopes.user.id}`, scopes.user.limits]);
  for (const [scope, limits] of scoped) {
    for (const kind of Object.keys(FIELDS) as BudgetKind[]) {
      const limit = limits[FIELDS[kind]];
      if (limit === undefined) continue;
      const window = windowOf(kind, now);
      needs.push({
        counter: `${scope}:${kind}`,
        kind,
        window: window.start,
        windowEnd: window.end,
        limit,
        amount: estimate[kind],
      });
    }
  }
  return needs;
}

/**
 * An end user whose counter the authority already refused to this isolate in the window, and that is
 * still short, is refused here, with no call to the authority: a user hammering the router costs the
 * tenant's authority nothing more until the window ends, so it cannot slow the tenant's other users.
 * The first refusal is the authority's, so its budget alert (100% when what is left is that short) is
 * raised. (Spare that other isolates give back in the meantime is not seen: the refusal may be early by
 * at most their leases, never late.)
 */
function refuseSpentUser(needs: Need[], holder: SpendHolder, now: number): void {
  const spent = needs.find(
    (need) =>
      need.counter.startsWith("user:") &&
      need.amount > 0 &&
      holder.remaining(need) < need.amount &&
      holder.refusedBefore(need),
  );
  if (spent) {
    const refused = { counter: spent.counter, kind: spent.kind, limit: spent.limit };
    const counter = { counter: spent.counter, granted: 0, used: spent.limit - holder.remaining(spent) };
    throw refusal({ ok: false, counters: [counter], refused }, needs, holder, now);
  }
}

function holderOf(holders: Map<string, SpendHolder>, tenant: string, lease: number): SpendHolder {
  let holder = holders.get(tenant);
  if (!holder) {
    holder = new SpendHolder(lease);
    holders.set(tenant, holder);
  }
  holder.lease = lease;
  return holder;
}

/** Waits until the holder has been idle for {@link IDLE_RETURN_MS}, then gives its spare back. */
async function returnWhenIdle(holder: SpendHolder, lend: Lend, waitUntil: (work: Promise<unknown>) => void) {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, holder.idleAt() - Date.now())));
    const asks = holder.returnIfIdle(Date.now());
    if (asks) return send(holder, asks, lend, waitUntil);
  }
}

/** Gives back what is due, off the request path; a debt that cannot be delivered stays owed. */
function send(
  holder: SpendHolder,
  asks: CounterAsk[],
  lend: Lend,
  waitUntil: (work: Promise<unknown>) => void,
) {
  if (asks.length === 0) return Promise.resolve();
  const call = lend(asks).then(
    (answer) => holder.absorb(asks, answer.counters),
    (error: unknown) => {
      holder.unsent(asks);
      console.warn(JSON.stringify({ event: "spend_return_failed", error: String(error) }));
    },
  );
  waitUntil(call);
  return call;
}

/** `x-ratelimit-*` for requests and tokens: the binding counter (tenant's or key's, whichever has less left). */
function rateHeaders(needs: Need[], holder: SpendHolder, now: number): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const kind of ["requests", "tokens"] as const) {
    const tightest = needs
      .filter((need) => need.kind === kind)
      .map((need) => ({ need, remaining: holder.remaining(need) }))
      .sort((a, b) => a.remaining - b.remaining)[0];
    if (!tightest) continue;
    headers[`x-ratelimit-limit-${kind}`] = String(tightest.need.limit);
    headers[`x-ratelimit-remaining-${kind}`] = String(Math.floor(tightest.remaining));
    headers[`x-ratelimit-reset-${kind}`] = resetDuration(tightest.need.windowEnd - now);
  }
  return headers;
}

/** How long a request refused for what others hold unspent waits: a short answer's time. */
const RESERVED_RETRY_S = 2;

function refusal(
  answer: Extract<SpendAnswer, { ok: false }>,
  needs: Need[],
  holder: SpendHolder,
  now: number,
): RouterError {
  const need = needs.find((candidate) => candidate.counter === answer.refused.counter) as Need;
  const scope = need.counter.startsWith("tenant:")
    ? "tenant"
    : need.counter.startsWith("user:")
      ? "end user"
      : "key";
  const headers = rateHeaders(needs, holder, now);
  const resetMs = need.windowEnd - now;
  if (need.kind === "requests" || need.kind === "tokens") {
    const seconds = Math.max(1, Math.ceil(resetMs / 1000));
    const what = need.kind === "requests" ? "requests per minute" : "tokens per minute";
    return new RouterError(
      need.kind === "requests" ? "requests_per_minute_exceeded" : "tokens_per_minute_exceeded",
      `Rate limit reached: this ${scope} allows ${need.limit} ${what}` +
        (need.kind === "tokens" ? ` and this request needs about ${need.amount}.` : ".") +
        ` Retry after ${seconds} s.`,
      { headers: { ...headers, ...retryAfter(resetMs) } },
    );
  }
  const period = need.kind === "usd-day" ? "daily" : "monthly";
  if (holder.refusedForReservations(need, answer.refused.unspentElsewhere ?? 0)) {
    return new RouterError(
      "budget_reserved",
      `This ${scope}'s ${period} budget of $${need.limit} is held by requests still in flight: each reserves` +
        ` its estimated cost (prompt and max_tokens) until it ends, then gives back what it did not use.` +
        ` This request (about $${need.amount.toFixed(6)}) fits in what is not spent yet; retry after ${RESERVED_RETRY_S} s.`,
      { headers: { ...headers, ...retryAfter(RESERVED_RETRY_S * 1000) } },
    );
  }
  const reset = new Date(need.windowEnd).toISOString();
  const used = answer.counters.find((counter) => counter.counter === need.counter)?.used ?? need.limit;
  const left = need.limit - used;
  const state =
    left >= 0.000_001
      ? ` has $${left.toFixed(6)} left, less than this request's estimated cost of about` +
        ` $${need.amount.toFixed(6)} (its prompt and max_tokens); a smaller max_tokens may fit.`
      : ` is spent (this request would cost about $${need.amount.toFixed(6)}).`;
  return new RouterError(
    "budget_exhausted",
    `Insufficient budget: this ${scope}'s ${period} budget of $${need.limit}${state} It resets at ${reset} (UTC).`,
    { headers: { ...headers, "x-router-budget-reset": reset } },
  );
}

/** One limited counter as the tenant sees it in /v1/usage. */
export interface LimitReport {
  /** `tenant`, or the managed key's id. */
  scope: string;
  kind: BudgetKind;
  limit: number;
  /** Counted for the window: spent, plus what isolates hold on lease and have not spent yet. */
  used: number;
  remaining: number;
  resetsAt: string;
}

/** Sums of many dollar amounts carry float noise (0.000485999…9); a billionth of a dollar is below any price. */
function nanoRound(value: number): number {
  return Math.round(value * 1e9) / 1e9;
}

/** Every limited counter of the tenant (and key) in its current window, from the authority: one call. */
export async function limitsReport(
  authorities: DurableObjectNamespace<SpendAuthority>,
  scopes: LimitScopes,
  now: number,
): Promise<LimitReport[]> {
  const counters = countersOf(scopes, now);
  if (counters.length === 0) return [];
  const used = await authorities.getByName(scopes.tenant.id).used(counters, scopes.tenant.id);
  return counters.map((counter, i) => {
    const spent = used[i] ?? 0;
    return {
      scope: scopeOf(counter.counter),
      kind: counter.kind,
      limit: counter.limit,
      used: nanoRound(spent),
      remaining: nanoRound(Math.max(0, counter.limit - spent)),
      resetsAt: new Date(counter.windowEnd).toISOString(),
    };
  });
}
