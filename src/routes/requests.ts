import { type Context, Hono } from "hono";
import { usageCostUsd } from "../classify/catalog";
import { misconfigured } from "../config/settings";
import { loadTenants } from "../config/tenants";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { MAX_PAGE, mergePages, type RecordFilter, type RecordPage } from "../ledger/request-records";
import { withPolicy } from "../middleware/policy";
import { explorerHtml } from "../observe/explorer-page";
import { promptInsights, SHORT_ANSWER_TOKENS } from "../observe/insights";
import { readPayload } from "../observe/payload";
import { managedDirectory } from "../tenancy/tenant-directory";
import type { RequestRecord } from "../trace";
import { requireAdmin } from "./admin";
import { PAGE_HEADERS } from "./dashboard";
import { queryTime, usageWindow } from "./range";

/**
 * The request explorer's API (issue 25). `GET /v1/requests` and `/v1/requests/{id}`: the calling
 * tenant's own records, read from its own ledger, so no filter can reach another tenant's.
 * `GET /admin/requests` and `/admin/requests/{id}`: any tenant's, behind the admin key. Lists are
 * OpenAI-style (`object: "list"`, `data`, `has_more`, `last_id`), newest first, paged with `after`.
 */
export const tenantRequests = new Hono<AppEnv>();
export const adminRequests = new Hono<AppEnv>();

export const REQUEST_PATHS = [
  "/v1/requests",
  "/v1/requests/:id",
  "/admin/requests",
  "/admin/requests/:id",
  "/v1/requests/:id/payload",
  "/admin/requests/:id/payload",
  "/operator/requests",
  "/dashboard/requests",
];

const OPERATOR_EXPLORER = explorerHtml("admin");
const TENANT_EXPLORER = explorerHtml("tenant");

// The explorer pages carry no data: each asks for its key and reads the API below.
adminRequests.get("/operator/requests", (c) => c.html(OPERATOR_EXPLORER, 200, PAGE_HEADERS));
adminRequests.get("/dashboard/requests", (c) => c.html(TENANT_EXPLORER, 200, PAGE_HEADERS));

tenantRequests.get("/v1/requests", async (c) => {
  const tenant = c.get("tenant").id;
  const page = await c.env.TENANT_LEDGER.getByName(tenant).listRequests(parseFilter(c));
  return c.json(listOf(page));
});

// A captured payload: its tenant's, through the tenant's own ledger, or the operator's.
tenantRequests.get("/v1/requests/:id/payload", async (c) => {
  const record = await c.env.TENANT_LEDGER.getByName(c.get("tenant").id).request(c.req.param("id"));
  return payloadOf(c, record, c.req.param("id"));
});

/**
 * `/insights` (the prompt-cost insights over `from`/`to`, by default the last 7 days) and a record by
 * id share one route, here and under /admin: Hono's RegExpRouter, which matches a request with one
 * regular expression, takes no fixed segment beside a parameter, and one such pair anywhere puts the
 * whole app on its TrieRouter, about 5% more CPU per small answer (measured). A record id is `req_…`.
 */
const INSIGHTS = "insights";

tenantRequests.get("/v1/requests/:id", async (c) => {
  const tenant = c.get("tenant").id;
  if (c.req.param("id") === INSIGHTS) return insights(c, tenant);
  const record = await c.env.TENANT_LEDGER.getByName(tenant).request(c.req.param("id"));
  if (!record) throw notFound(c.req.param("id"));
  return c.json(objectOf(record));
});

// Guards per route, not `use`: this router is mounted at the root beside the tenant API.
adminRequests.get("/admin/requests", requireAdmin, async (c) => {
  const filter = parseFilter(c);
  const tenants = await tenantIds(c, c.req.query("tenant"));
  const pages = await Promise.all(
    tenants.map((id) => c.env.TENANT_LEDGER.getByName(id).listRequests(filter)),
  );
  return c.json(listOf(mergePages(pages, filter.limit)));
});

adminRequests.get("/admin/requests/:id/payload", requireAdmin, async (c) => {
  const id = c.req.param("id");
  const found = await Promise.all(
    (await tenantIds(c, c.req.query("tenant"))).map((t) => c.env.TENANT_LEDGER.getByName(t).request(id)),
  );
  return payloadOf(c, found.find((r) => r !== null) ?? null, id);
});

adminRequests.get("/admin/requests/:id", requireAdmin, withPolicy, async (c) => {
  const id = c.req.param("id");
  if (id === INSIGHTS) return tenantInsights(c);
  const found = await Promise.all(
    (await tenantIds(c, c.req.query("tenant"))).map((t) => c.env.TENANT_LEDGER.getByName(t).request(id)),
  );
  const record = found.find((r) => r !== null);
  if (!record) throw notFound(id);
  return c.json(objectOf(record));
});

/** `/admin/requests/insights`: one tenant's, named by `tenant`. */
async function tenantInsights(c: Context<AppEnv>): Promise<Response> {
  const tenant = c.req.query("tenant");
  if (!tenant)
    throw new RouterError("invalid_request", "'tenant' is required: insights are per tenant.", {
      param: "tenant",
    });
  return insights(c, (await tenantIds(c, tenant))[0] as string);
}

async function insights(c: Context<AppEnv>, tenant: string): Promise<Response> {
  const now = Date.now();
  // Only the range applies: the list's filters and paging do not.
  const { from: since, to: until } = usageWindow({ from: c.req.query("from"), to: c.req.query("to") }, now);
  const stats = await c.env.TENANT_LEDGER.getByName(tenant).promptStats(since, until, SHORT_ANSWER_TOKENS);
  const policy = c.get("policy");
  const report = promptInsights(stats, (model, usage) => usageCostUsd(policy, model, usage, now));
  const savingsUsd = Math.round(report.advice.reduce((sum, a) => sum + a.savingsUsd, 0) * 1e8) / 1e8;
  return c.json({ object: "prompt.insights", tenant, from: since, to: until, savingsUsd, ...report });
}

/** Every tenant, configured or created through the admin API, or the one asked for (404 when unknown). */
async function tenantIds(c: Context<AppEnv>, asked: string | undefined): Promise<string[]> {
  const directory = loadTenants(c.env.ROUTER_TENANTS);
  if (!directory.ok) throw misconfigured();
  const stored = await managedDirectory(c.env, Date.now());
  const known = [...directory.value.tenants.map((tenant) => tenant.id), ...stored.tenants.keys()];
  if (asked === undefined) return known;
  if (!known.includes(asked))
    throw new RouterError("not_found", `No tenant '${asked}'.`, { param: "tenant" });
  return [asked];
}

function objectOf(record: RequestRecord) {
  return { object: "request.record", ...record };
}

function listOf(page: RecordPage) {
  const data = page.data.map(objectOf);
  return {
    object: "list",
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: page.hasMore,
  };
}

async function payloadOf(c: Context<AppEnv>, record: RequestRecord | null, id: string): Promise<Response> {
  if (!record) throw notFound(id);
  const payload = record.payload ? await readPayload(c.env.FILES, record.id, record.payload) : null;
  if (!payload) throw new RouterError("not_found", `No payload was captured for '${id}'.`, { param: "id" });
  return c.json({ object: "request.payload", ...payload });
}

function notFound(id: string): RouterError {
  return new RouterError("not_found", `No request record '${id}'.`, { param: "id" });
}

const OUTCOMES = ["complete", "truncated", "failed", "cancelled", "rejected"];
/** `x-router-cache` values a record can hold, and `none` for requests the cache was not consulted on. */
const CACHE_STATUSES = ["hit", "miss", "bypass", "coalesced", "none"];

/** The list's query: every filter the explorer offers, each checked, in the surface's error envelope. */
export function parseFilter(c: Context<AppEnv>): RecordFilter {
  const q = (name: string) => {
    const value = c.req.query(name);
    return value === undefined || value === "" ? undefined : value;
  };
  const outcome = q("outcome")?.toLowerCase();
  if (outcome !== undefined && !OUTCOMES.includes(outcome)) {
    throw new RouterError("invalid_request", `'outcome' must be one of ${OUTCOMES.join(", ")}.`, {
      param: "outcome",
    });
  }
  const cache = q("cache")?.toLowerCase();
  if (cache !== undefined && !CACHE_STATUSES.includes(cache)) {
    throw new RouterError("invalid_request", `'cache' must be one of ${CACHE_STATUSES.join(", ")}.`, {
      param: "cache",
    });
  }
  const after = q("after");
  if (after !== undefined && !/^req_[0-9a-f]{24}$/.test(after)) {
    throw new RouterError("invalid_request", "'after' must be a request record id (req_…).", {
      param: "after",
    });
  }
  const from = queryTime(q("from"), "from");
  const to = queryTime(q("to"), "to");
  if (from !== undefined && to !== undefined && from >= to) {
    throw new RouterError("invalid_request", "'from' must be before 'to'.", { param: "from" });
  }
  return {
    from,
    to,
    model: q("model"),
    outcome,
    status: number(q("status"), "status", { integer: true, min: 100, max: 599 }),
    slowMs: number(q("slow_ms"), "slow_ms", { min: 0 }),
    minCostUsd: number(q("min_cost_usd"), "min_cost_usd", { min: 0 }),
    cache,
    requestId: q("request_id"),
    after,
    limit: number(q("limit"), "limit", { integer: true, min: 1, max: MAX_PAGE }) ?? 20,
  };
}

function number(
  value: string | undefined,
  param: string,
  range: { integer?: boolean; min: number; max?: number },
): number | undefined {
  if (value === undefined) return undefined;
  // Plain decimals only: `Number` also reads "0x10", "1e1" and " " (as 0).
  const n = (range.integer ? /^\d{1,15}$/ : /^\d{1,15}(?:\.\d{1,15})?$/).test(value)
    ? Number(value)
    : Number.NaN;
  const ok = Number.isFinite(n) && n >= range.min && (range.max === undefined || n <= range.max);
  if (!ok) {
    const what = range.integer ? "an integer" : "a number";
    const bounds = range.max === undefined ? `at least ${range.min}` : `from ${range.min} to ${range.max}`;
    throw new RouterError("invalid_request", `'${param}' must be ${what} ${bounds}.`, { param });
  }
  return n;
}
