import * as z from "../zod";
import { CACHE_MODES } from "./cache-limits";
import { frontendSchema, type IssuerConfig } from "./frontend";
import { limitsSchema } from "./limits";
import { type ConfigResult, describeIssues } from "./settings";

export const PRIORITIES = ["high", "normal", "low"] as const;
export type Priority = (typeof PRIORITIES)[number];

const sha256Hex = z.string().check(
  z.overwrite((value) => value.replace(/^sha256:/, "").toLowerCase()),
  z.regex(/^[0-9a-f]{64}$/, "expected a SHA-256 digest of the key as 64 hex characters"),
);

const TENANT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** `.` and `..`: a URL path segment that every client and the router resolve away. */
const DOTS_ONLY = /^\.+$/;

/**
 * 1-64 characters of [A-Za-z0-9_.-], and not a name every JavaScript object already has (`__proto__`,
 * `constructor`, `toString`…): tenant ids key plain objects in metrics and reports, where such a name
 * would read or overwrite the shared prototype instead of a tenant's entry. Nor dots alone: `/admin/
 * tenants/..` is `/admin` to every URL parser, so such a tenant could never be managed.
 */
export function isTenantId(id: string): boolean {
  return TENANT_ID.test(id) && !DOTS_ONLY.test(id) && !(id in Object.prototype);
}

const tenantId = z
  .string()
  .check(
    z.refine(
      isTenantId,
      "tenant id must be 1-64 characters of [A-Za-z0-9_.-], not dots alone, and not a reserved name such as __proto__ or constructor",
    ),
  );

/** What a tenant is, apart from its id and configured keys: shared by ROUTER_TENANTS and the admin API. */
const tenantSettings = {
  /** The highest priority the tenant may ask for; higher requests are capped to it. */
  maxPriority: z._default(z.enum(PRIORITIES), "high"),
  /** Requests may be served by a cheaper model when their pool is saturated or failing. */
  allowDegrade: z._default(z.boolean(), false),
  /** Requests the tenant may have in flight in each pool at once; unset means only the pool's ceiling. */
  concurrency: z.optional(z.int().check(z.positive())),
  /** Prompt cache: "on" caches every request, "off" none; unset follows the policy (temperature 0 only). */
  cache: z.optional(z.enum(CACHE_MODES)),
  /** "shared": the tenant reads and writes cache entries shared with every other tenant that says so. Default "tenant". */
  cacheScope: z.optional(z.enum(["tenant", "shared"])),
  /**
   * Keep the reasoning of thinking-mode answers that call tools, and put it back when the tenant's
   * client sends those tool calls without it. Default on; off passes such requests on unchanged.
   */
  restoreReasoning: z.optional(z.boolean()),
  /**
   * Streamed chat answers outlive their client (issue 24): kept by an owner and resumable by id, instead
   * of aborted when the client leaves. Default off; `x-router-resumable: on|off` decides per request.
   */
  resumableStreams: z.optional(z.boolean()),
  /** Rate limits, budgets, allowed models and origins (config/limits.ts); each key may narrow them. */
  limits: z.optional(limitsSchema),
  /** The tenant's own webhook for its budget alerts (50%, 80%, 100% of each dollar budget), beside the operator's. */
  alertWebhook: z.optional(z.url({ protocol: /^https?$/ })),
  /**
   * Where this tenant's request traces go (issue 25), instead of OTEL_EXPORTER_OTLP_ENDPOINT: an OTLP/HTTP
   * base URL (`/v1/traces` is appended) and the headers its collector wants (an API key, for one).
   */
  otel: z.optional(
    z.object({
      endpoint: z.url({ protocol: /^https?$/ }),
      headers: z.optional(z.record(z.string(), z.string())),
    }),
  ),
  /**
   * Payload capture (issue 25), off unless set: the prompt and answer of each request answered by the
   * upstream, redacted (keys always; `redact` adds regular expressions) and capped at `maxBytes` each,
   * kept in R2 as long as the request's record (14 days).
   */
  capture: z.optional(
    z.object({
      enabled: z.boolean(),
      maxBytes: z._default(z.int().check(z.positive(), z.maximum(1_048_576)), 32_768),
      redact: z._default(
        z.array(
          z.string().check(
            z.refine((pattern) => {
              try {
                new RegExp(pattern, "g");
                return true;
              } catch {
                return false;
              }
            }, "not a valid regular expression"),
          ),
        ),
        [],
      ),
    }),
  ),
  /** Frontend tokens (issue 23): who may mint, per end-user limits, the tenant's own issuers. */
  frontend: z.optional(frontendSchema),
};

const tenantSchema = z.object({
  id: tenantId,
  /** SHA-256 digests of the tenant's router keys; the keys themselves are never configured. */
  keys: z.array(sha256Hex).check(z.minLength(1)),
  ...tenantSettings,
});

/**
 * A tenant created through the admin API (tenancy/tenant-directory.ts): the same settings, no key
 * digests (its keys are managed keys), and unknown fields refused so a typo is not silently dropped.
 */
export const managedTenantSchema = z.strictObject({
  id: tenantId,
  ...tenantSettings,
  /** A disabled tenant's keys stop authenticating, within the key cache's bound. */
  disabled: z._default(z.boolean(), false),
});
export type ManagedTenant = z.output<typeof managedTenantSchema>;

const tenantsSchema = z.array(tenantSchema).check(
  z.minLength(1),
  z.superRefine((tenants, ctx) => {
    const seenIds = new Set<string>();
    const seenKeys = new Set<string>();
    const seenIssuers = new Set<string>();
    tenants.forEach((tenant, index) => {
      if (seenIds.has(tenant.id)) {
        ctx.addIssue({ code: "custom", path: [index, "id"], message: `duplicate tenant id '${tenant.id}'` });
      }
      seenIds.add(tenant.id);
      tenant.keys.forEach((key, keyIndex) => {
        if (seenKeys.has(key)) {
          ctx.addIssue({ code: "custom", path: [index, "keys", keyIndex], message: "key digest used twice" });
        }
        seenKeys.add(key);
      });
      tenant.frontend?.issuers?.forEach((issuer, issuerIndex) => {
        // A token names its tenant only through (iss, aud), so that pair must be one tenant's.
        const pair = JSON.stringify([issuer.issuer, issuer.audience]);
        if (seenIssuers.has(pair)) {
          ctx.addIssue({
            code: "custom",
            path: [index, "frontend", "issuers", issuerIndex],
            message: "issuer and audience already used by a tenant",
          });
        }
        seenIssuers.add(pair);
      });
    });
  }),
);

export type Tenant = z.output<typeof tenantSchema>;

/** A tenant with its key digests decoded to bytes for constant-time comparison. */
export interface TenantDirectory {
  tenants: Tenant[];
  /** Every origin some tenant allows browsers from; undefined when no tenant restricts origins. */
  origins: ReadonlySet<string> | undefined;
  entries: Array<{ digest: Uint8Array; tenant: Tenant }>;
  /** Tenants' own token issuers by `iss`: a bearer token naming one is verified against its keys. */
  issuers: IssuerIndex;
}

/** Tenants' own token issuers by `iss`, each with its tenant (one tenant per (`issuer`, `audience`) pair). */
export type IssuerIndex = ReadonlyMap<string, ReadonlyArray<{ tenant: Tenant; issuer: IssuerConfig }>>;

/**
 * The issuers of `tenants` by `iss`. `same` may hand back an equal issuer object kept from before, so
 * what is cached per issuer object (its key set, the tokens it verified) survives a re-read.
 */
export function indexIssuers(
  tenants: Iterable<Tenant>,
  same: (issuer: IssuerConfig) => IssuerConfig = (issuer) => issuer,
): IssuerIndex {
  const issuers = new Map<string, Array<{ tenant: Tenant; issuer: IssuerConfig }>>();
  for (const tenant of tenants) {
    for (const issuer of tenant.frontend?.issuers ?? []) {
      const entries = issuers.get(issuer.issuer) ?? [];
      entries.push({ tenant, issuer: same(issuer) });
      issuers.set(issuer.issuer, entries);
    }
  }
  return issuers;
}

let memo: { raw: string; result: ConfigResult<TenantDirectory> } | undefined;

export function loadTenants(raw: string | undefined): ConfigResult<TenantDirectory> {
  if (memo && memo.raw === raw) return memo.result;
  const result = parseTenants(raw);
  memo = { raw: raw ?? "", result };
  return result;
}

function parseTenants(raw: string | undefined): ConfigResult<TenantDirectory> {
  if (!raw) return { ok: false, errors: ["ROUTER_TENANTS: not set (a JSON array of tenants)"] };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, errors: ["ROUTER_TENANTS: not valid JSON"] };
  }
  const parsed = tenantsSchema.safeParse(json);
  if (!parsed.success) return { ok: false, errors: describeIssues("ROUTER_TENANTS", parsed.error) };
  const entries = parsed.data.flatMap((tenant) =>
    tenant.keys.map((hex) => ({ digest: hexToBytes(hex), tenant })),
  );
  const named = parsed.data.flatMap((tenant) => tenant.limits?.origins ?? []);
  const origins = named.length > 0 ? new Set(named) : undefined;
  return { ok: true, value: { tenants: parsed.data, entries, origins, issuers: indexIssuers(parsed.data) } };
}

function hexToBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}
