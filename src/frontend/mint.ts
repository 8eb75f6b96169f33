import type { FrontendConfig, PerUserLimits } from "../config/frontend";
import type { Limits } from "../config/limits";
import { fromZodError, RouterError } from "../errors";
import * as z from "../zod";
import { type TokenScope, TTL_BOUNDS_S } from "./token";

const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/;
const positiveInt = z.int().check(z.positive(), z.lte(1e12));

/** `POST /v1/frontend/tokens`: snake_case like the rest of the OpenAI-shaped API. */
export const mintRequestSchema = z.strictObject({
  sub: z.string().check(z.minLength(1), z.maxLength(256)),
  ttl_seconds: z._default(
    z.int().check(z.gte(TTL_BOUNDS_S.min), z.lte(TTL_BOUNDS_S.max)),
    TTL_BOUNDS_S.default,
  ),
  models: z.optional(
    z.array(z.string().check(z.minLength(1), z.maxLength(64))).check(z.minLength(1), z.maxLength(64)),
  ),
  max_tokens: z.optional(positiveInt),
  limits: z.optional(
    z.strictObject({
      requests_per_minute: z.optional(positiveInt),
      tokens_per_minute: z.optional(positiveInt),
      usd_per_day: z.optional(z.number().check(z.positive(), z.lte(1e9))),
    }),
  ),
  origins: z.optional(
    z
      .array(z.string().check(z.regex(ORIGIN, "expected an origin such as https://app.example.com")))
      .check(z.minLength(1), z.maxLength(64)),
  ),
});
export type MintRequest = z.output<typeof mintRequestSchema>;

export function parseMintRequest(json: unknown): MintRequest {
  const parsed = mintRequestSchema.safeParse(json);
  if (!parsed.success) throw fromZodError(parsed.error, "token request");
  return parsed.data;
}

/**
 * The scope a token is minted with. It may only narrow its parent's: the key's (and tenant's) models,
 * origins and `max_tokens`, and the tenant's per-user limits. Asking for more is a 403 naming the field.
 */
export function scopeOf(
  request: MintRequest,
  parent: Limits,
  frontend: FrontendConfig | undefined,
): TokenScope {
  const perUser = frontend?.perUser ?? {};
  const scope: TokenScope = {};
  if (request.models) scope.models = subset("models", request.models, parent.models);
  if (request.origins) scope.origins = subset("origins", request.origins, parent.origins);
  const limits: PerUserLimits = {};
  const asked: Array<[keyof PerUserLimits, string, number | undefined, Array<number | undefined>]> = [
    ["maxTokens", "max_tokens", request.max_tokens, [parent.maxTokens, perUser.maxTokens]],
    [
      "requestsPerMinute",
      "limits.requests_per_minute",
      request.limits?.requests_per_minute,
      [parent.requestsPerMinute, perUser.requestsPerMinute],
    ],
    [
      "tokensPerMinute",
      "limits.tokens_per_minute",
      request.limits?.tokens_per_minute,
      [parent.tokensPerMinute, perUser.tokensPerMinute],
    ],
    ["usdPerDay", "limits.usd_per_day", request.limits?.usd_per_day, [parent.usdPerDay, perUser.usdPerDay]],
  ];
  for (const [field, param, value, caps] of asked) {
    if (value === undefined) continue;
    const cap = Math.min(...caps.map((c) => c ?? Number.POSITIVE_INFINITY));
    if (value > cap) throw beyondParent(param, `${value} exceeds the parent key's limit of ${cap}`);
    limits[field] = value;
  }
  if (Object.keys(limits).length > 0) scope.limits = limits;
  return scope;
}

function subset(param: string, asked: string[], allowed: string[] | undefined): string[] {
  const outside = allowed ? asked.filter((item) => !allowed.includes(item)) : [];
  if (outside.length > 0) throw beyondParent(param, `${outside.join(", ")} not allowed for the parent key`);
  return asked;
}

function beyondParent(param: string, why: string): RouterError {
  return new RouterError("scope_exceeded", `A token may only narrow its key's scope: ${param}: ${why}.`, {
    param,
  });
}
