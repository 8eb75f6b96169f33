import { Hono } from "hono";
import { loadTenants, type ManagedTenant, managedTenantSchema, type Tenant } from "../config/tenants";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { limitsReport, scopesOf } from "../tenancy/enforce";
import { type IssuerClash, issuerClash } from "../tenancy/issuer-clash";
import { keyCacheTtl } from "../tenancy/keys";
import { asTenant, keyRegistry } from "../tenancy/tenant-directory";
import type { TenantRecord } from "../tenancy/tenant-table";
import * as z from "../zod";
import { bodyAs, invalidJson, jsonBody } from "./body";
import { usageWindow } from "./range";

/**
 * `/admin/tenants`: tenants as data, behind the admin guard of routes/admin.ts. Tenants of
 * `ROUTER_TENANTS` are listed too, marked `source: "config"`, and cannot be changed here: config wins
 * (tenancy/tenant-directory.ts). A change reaches every isolate within `propagationSeconds`.
 */
export const tenants = new Hono<AppEnv>();

/** The body of `POST /admin/tenants`. */
export const createTenantBody = managedTenantSchema;
/**
 * The body of `PATCH /admin/tenants/:tenant`: any of the settings; `null` unsets an optional one. The
 * change is merged over the stored tenant and the result validated as a whole.
 */
export const updateTenantBody = z.partial(z.omit(managedTenantSchema, { id: true }));

tenants.get("/tenants", async (c) => {
  const configured = configTenants(c.env);
  const stored = await keyRegistry(c.env).listTenants();
  const pinned = new Set(configured.map((tenant) => tenant.id));
  const data = [
    ...configured.map((tenant) => configView(tenant, c.env)),
    ...stored.filter((record) => !pinned.has(record.tenant.id)).map((record) => storedView(record, c.env)),
  ];
  return c.json({ object: "list", data });
});

tenants.post("/tenants", async (c) => {
  const tenant = bodyAs(managedTenantSchema, await jsonBody(c.req.raw), "tenant");
  refusePinned(c.env, tenant.id);
  refuseConfiguredIssuers(c.env, tenant);
  const record = await keyRegistry(c.env).createTenant(tenant);
  if (!record) {
    throw new RouterError("invalid_request", `Tenant '${tenant.id}' already exists.`, {
      param: "id",
      status: 409,
    });
  }
  if ("clash" in record) throw issuerClashError(record.clash);
  return c.json(storedView(record, c.env), 201);
});

tenants.get("/tenants/:tenant", async (c) => {
  const id = c.req.param("tenant");
  const pinned = configTenants(c.env).find((tenant) => tenant.id === id);
  if (pinned) return c.json(configView(pinned, c.env));
  return c.json(storedView(await storedTenant(c.env, id), c.env));
});

tenants.patch("/tenants/:tenant", async (c) => {
  const id = c.req.param("tenant");
  refusePinned(c.env, id);
  const change = await jsonBody(c.req.raw);
  if (typeof change !== "object" || change === null || Array.isArray(change)) return invalidJson();
  if ("id" in change && change.id !== id) {
    throw new RouterError("invalid_request", "A tenant's id cannot change.", { param: "id" });
  }
  const current = await storedTenant(c.env, id);
  const merged = withoutNulls({
    ...current.tenant,
    ...change,
    ...keptCollectorHeaders(change, current.tenant),
  });
  const tenant = bodyAs(managedTenantSchema, merged, "tenant");
  refuseConfiguredIssuers(c.env, tenant);
  const record = await keyRegistry(c.env).updateTenant(tenant);
  if (record && "clash" in record) throw issuerClashError(record.clash);
  return c.json(storedView(record ?? current, c.env));
});

/** The tenant's spend over `from`..`to` (default the last week) and each limit's burn, the tenant's and each key's. */
tenants.get("/tenants/:tenant/usage", async (c) => {
  const id = c.req.param("tenant");
  const tenant =
    configTenants(c.env).find((t) => t.id === id) ?? asTenant((await storedTenant(c.env, id)).tenant);
  const now = Date.now();
  const { from, to } = usageWindow({ from: c.req.query("from"), to: c.req.query("to") }, now);
  const [summary, limits, keys] = await Promise.all([
    c.env.TENANT_LEDGER.getByName(id).summary(id, from, to),
    limitsReport(c.env.SPEND_AUTHORITY, scopesOf(tenant), now),
    keyRegistry(c.env).list(id),
  ]);
  const keyLimits = await Promise.all(
    keys.map(async (key) => ({
      id: key.id,
      name: key.name,
      limits: (await limitsReport(c.env.SPEND_AUTHORITY, scopesOf(tenant, key), now)).filter(
        (report) => report.scope === key.id,
      ),
    })),
  );
  return c.json({ ...summary, limits, keys: keyLimits });
});

function configTenants(env: Env): Tenant[] {
  const directory = loadTenants(env.ROUTER_TENANTS);
  return directory.ok ? directory.value.tenants : [];
}

function refusePinned(env: Env, id: string): void {
  if (configTenants(env).some((tenant) => tenant.id === id)) {
    throw new RouterError(
      "invalid_request",
      `Tenant '${id}' is pinned in ROUTER_TENANTS: change it there (config wins over the admin API).`,
      { param: "tenant", status: 409 },
    );
  }
}

/** A configured tenant's (issuer, audience) pair is not the admin API's to give (the registry checks stored ones). */
function refuseConfiguredIssuers(env: Env, tenant: ManagedTenant): void {
  const clash = issuerClash(tenant, configTenants(env));
  if (clash) throw issuerClashError(clash);
}

/** 409 naming the pair and the tenant that has it: a token names its tenant by (iss, aud) alone. */
function issuerClashError({ index, issuer, audience, owner }: IssuerClash): RouterError {
  return new RouterError(
    "invalid_request",
    `Issuer '${issuer}' with audience '${audience}' already belongs to tenant '${owner}': an (issuer, audience) pair names one tenant.`,
    { param: `frontend.issuers.${index}`, status: 409 },
  );
}

async function storedTenant(env: Env, id: string): Promise<TenantRecord> {
  const record = await keyRegistry(env).getTenant(id);
  if (!record) throw new RouterError("not_found", `No tenant '${id}'.`, { param: "tenant" });
  return record;
}

function configView(tenant: Tenant, env: Env) {
  const { keys: _digests, ...settings } = tenant;
  return {
    object: "tenant",
    ...withHiddenHeaders(settings),
    disabled: false,
    source: "config",
    ...propagation(env),
  };
}

function storedView(record: TenantRecord, env: Env) {
  return {
    object: "tenant",
    ...withHiddenHeaders(record.tenant),
    source: "admin",
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    ...propagation(env),
  };
}

/** Stands for a collector header's value in a view: the values are credentials (an API key, say). */
const HIDDEN = "[REDACTED]";

type WithOtel = { otel?: { endpoint: string; headers?: Record<string, string> } };

/** The tenant as a view shows it: its collector's header names, not their values. */
function withHiddenHeaders<T extends WithOtel>(tenant: T): T {
  const headers = tenant.otel?.headers;
  if (!tenant.otel || !headers) return tenant;
  const hidden = Object.fromEntries(Object.keys(headers).map((name) => [name, HIDDEN]));
  return { ...tenant, otel: { ...tenant.otel, headers: hidden } };
}

/**
 * A change that sends a view's hidden header values back (a read, edited, then written whole) keeps
 * the stored values of those headers; any other value replaces them. Nothing when the change has no
 * collector headers.
 */
function keptCollectorHeaders(change: object, current: WithOtel): WithOtel {
  const otel = (change as { otel?: unknown }).otel as WithOtel["otel"] | null | undefined;
  const stored = current.otel?.headers;
  if (!otel?.headers || !stored || typeof otel.headers !== "object") return {};
  const headers = Object.fromEntries(
    Object.entries(otel.headers).map(([name, value]) => [
      name,
      value === HIDDEN ? (stored[name] ?? value) : value,
    ]),
  );
  return { otel: { ...otel, headers } };
}

function propagation(env: Env) {
  return { propagationSeconds: keyCacheTtl(env) / 1000 };
}

function withoutNulls(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== null));
}
