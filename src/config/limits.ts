import * as z from "../zod";

const positiveInt = z.int().check(z.positive(), z.lte(1e12));
const dollars = z.number().check(z.positive(), z.lte(1e9));
const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/;

/**
 * What a tenant, or one of its keys, may do. Every field is optional (absent: no limit of that kind).
 * Minute limits run in fixed UTC minutes; dollar budgets in UTC days and UTC calendar months.
 */
export const limitsSchema = z.strictObject({
  requestsPerMinute: z.optional(positiveInt),
  /** Prompt plus output tokens; a request reserves its estimate and settles on the real usage. */
  tokensPerMinute: z.optional(positiveInt),
  usdPerDay: z.optional(dollars),
  usdPerMonth: z.optional(dollars),
  /** Model names, or model types (chat, code, reasoning, vision), the caller may ask for. */
  models: z.optional(
    z
      .array(z.string().check(z.regex(/^[A-Za-z0-9_.:/-]{1,64}$/, "expected a model name or type")))
      .check(z.minLength(1), z.maxLength(64)),
  ),
  /** The largest `max_tokens` a request may ask for; it is also the output a request without one reserves. */
  maxTokens: z.optional(positiveInt),
  /** Browser origins (`https://app.example.com`) the key may be used from; others get 403. */
  origins: z.optional(
    z
      .array(z.string().check(z.regex(ORIGIN, "expected an origin such as https://app.example.com")))
      .check(z.minLength(1), z.maxLength(64)),
  ),
  /**
   * The share of each limit one isolate may hold on lease and spend with no round trip (0 to 0.5).
   * 0 is exact: every request reserves at the tenant's authority, one round trip. Tenant-level only.
   */
  lease: z.optional(z.number().check(z.gte(0), z.lte(0.5))),
});

export type Limits = z.output<typeof limitsSchema>;

/** The share of a limit an isolate may hold when the tenant says nothing. */
export const DEFAULT_LEASE = 0.05;

type Numeric = "requestsPerMinute" | "tokensPerMinute" | "usdPerDay" | "usdPerMonth" | "maxTokens";
const NUMERIC: readonly Numeric[] = [
  "requestsPerMinute",
  "tokensPerMinute",
  "usdPerDay",
  "usdPerMonth",
  "maxTokens",
];
const LISTS = ["models", "origins"] as const;

/**
 * Where a key's limits go beyond its tenant's, as `[field, reason]` pairs: a key may only narrow what
 * its tenant allows. Empty when the key fits.
 */
export function excessOver(tenant: Limits, key: Limits): Array<[keyof Limits, string]> {
  const excess: Array<[keyof Limits, string]> = [];
  for (const field of NUMERIC) {
    const cap = tenant[field];
    const asked = key[field];
    if (cap !== undefined && asked !== undefined && asked > cap) {
      excess.push([field, `exceeds the tenant's limit of ${cap}`]);
    }
  }
  for (const field of LISTS) {
    const allowed = tenant[field];
    const asked = key[field];
    const outside = allowed && asked ? asked.filter((item) => !allowed.includes(item)) : [];
    if (outside.length > 0) excess.push([field, `not allowed for the tenant: ${outside.join(", ")}`]);
  }
  if (key.lease !== undefined) excess.push(["lease", "is set per tenant, not per key"]);
  return excess;
}
