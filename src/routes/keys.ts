import { Hono } from "hono";
import { excessOver, type Limits, limitsSchema } from "../config/limits";
import type { Tenant } from "../config/tenants";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";
import { KEY_CAPABILITIES, type KeyRecord } from "../tenancy/key-registry";
import { keyCacheTtl, mintSecret, REGISTRY_NAME } from "../tenancy/keys";
import { namedTenant } from "../tenancy/tenant-directory";
import * as z from "../zod";
import { bodyAs, jsonBody, optionalJsonBody } from "./body";

/**
 * `/admin/tenants/:tenant/keys`: managed router keys, behind the admin guard of routes/admin.ts.
 * Every call names the tenant, and the registry answers only for keys of that tenant, so one tenant's
 * path can neither see nor change another's keys. A secret appears once, in the create or rotate answer.
 */
export const keys = new Hono<AppEnv>();

const MAX_GRACE_S = 7 * 86_400;
const name = z
  .string()
  .check(z.regex(/^[\p{L}\p{N} _.:@/-]{1,64}$/u, "1-64 letters, digits, spaces or _.:@/-"));
/** "mint": may mint frontend tokens; "browser": may be used from other sites' pages (issue 23). Off by default. */
const capabilities = z.array(z.enum(KEY_CAPABILITIES)).check(z.maxLength(KEY_CAPABILITIES.length));
export const createSchema = z.strictObject({
  name,
  limits: z.optional(limitsSchema),
  capabilities: z.optional(capabilities),
});
export const updateSchema = z.strictObject({
  name: z.optional(name),
  limits: z.optional(limitsSchema),
  disabled: z.optional(z.boolean()),
  capabilities: z.optional(capabilities),
});
export const rotateSchema = z.strictObject({
  /** How long the old secret keeps working (0, the default: it stops now). */
  graceSeconds: z._default(z.int().check(z.gte(0), z.lte(MAX_GRACE_S)), 0),
});

const KEY_ID = /^key_[0-9a-f]{32}$/;

keys.post("/tenants/:tenant/keys", async (c) => {
  const tenant = await namedTenant(c.env, c.req.param("tenant"));
  const body = bodyAs(createSchema, await jsonBody(c.req.raw), "key");
  const limits = withinTenant(tenant, body.limits ?? {});
  const { secret, stored } = await mintSecret();
  const record = await registry(c.env).create(tenant.id, body.name, limits, stored, body.capabilities);
  return c.json({ ...view(record, c.env), key: secret }, 201);
});

keys.get("/tenants/:tenant/keys", async (c) => {
  const tenant = await namedTenant(c.env, c.req.param("tenant"));
  return c.json({
    object: "list",
    data: (await registry(c.env).list(tenant.id)).map((record) => view(record, c.env)),
  });
});

keys.get("/tenants/:tenant/keys/:id", async (c) => {
  const tenant = await namedTenant(c.env, c.req.param("tenant"));
  return c.json(view(found(await registry(c.env).get(tenant.id, keyId(c.req.param("id")))), c.env));
});

keys.patch("/tenants/:tenant/keys/:id", async (c) => {
  const tenant = await namedTenant(c.env, c.req.param("tenant"));
  const id = keyId(c.req.param("id"));
  const change = bodyAs(updateSchema, await jsonBody(c.req.raw), "key");
  if (change.limits) change.limits = withinTenant(tenant, change.limits);
  return c.json(view(found(await registry(c.env).update(tenant.id, id, change)), c.env));
});

keys.post("/tenants/:tenant/keys/:id/rotate", async (c) => {
  const tenant = await namedTenant(c.env, c.req.param("tenant"));
  const id = keyId(c.req.param("id"));
  const body = bodyAs(rotateSchema, await optionalJsonBody(c.req.raw), "key");
  const { secret, stored } = await mintSecret();
  const record = found(await registry(c.env).rotate(tenant.id, id, stored, body.graceSeconds * 1000));
  return c.json({ ...view(record, c.env), key: secret });
});

keys.delete("/tenants/:tenant/keys/:id", async (c) => {
  const tenant = await namedTenant(c.env, c.req.param("tenant"));
  const id = keyId(c.req.param("id"));
  if (!(await registry(c.env).remove(tenant.id, id))) throw notFound();
  return c.json({ id, object: "key", deleted: true });
});

function registry(env: Env) {
  return env.KEY_REGISTRY.getByName(REGISTRY_NAME);
}

/** The admin view: never the secret; says how soon a change reaches every isolate. */
function view(record: KeyRecord, env: Env) {
  return {
    object: "key",
    ...record,
    hints: record.hints.map((hint) => `sk-rt-…${hint}`),
    propagationSeconds: keyCacheTtl(env) / 1000,
  };
}

function keyId(id: string): string {
  if (!KEY_ID.test(id)) throw new RouterError("invalid_request", "Not a key id.", { param: "id" });
  return id;
}

function found(record: KeyRecord | null): KeyRecord {
  if (!record) throw notFound();
  return record;
}

function notFound(): RouterError {
  return new RouterError("not_found", "No such key for this tenant.", { param: "id" });
}

/** A key may only narrow its tenant's limits. */
function withinTenant(tenant: Tenant, limits: Limits): Limits {
  const [excess] = excessOver(tenant.limits ?? {}, limits);
  if (excess) {
    throw new RouterError("invalid_request", `limits.${excess[0]} ${excess[1]}.`, {
      param: `limits.${excess[0]}`,
    });
  }
  return limits;
}
