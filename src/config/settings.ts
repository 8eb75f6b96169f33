import { RouterError } from "../errors";
import * as z from "../zod";

/** An operator-fixed http(s) origin, without trailing slashes. */
export const httpBaseUrl = z
  .url({ protocol: /^https?$/ })
  .check(z.overwrite((url) => url.replace(/\/+$/, "")));

const settingsSchema = z.object({
  DEEPSEEK_BASE_URL: httpBaseUrl,
  MAX_BODY_BYTES: z._default(
    z.coerce.number().check(z.int(), z.gte(1024), z.lte(100 * 1024 * 1024)),
    8 * 1024 * 1024,
  ),
  CORS_ORIGINS: z.pipe(
    z._default(z.string(), "*"),
    z.transform((value: string) =>
      value
        .split(",")
        .map((origin) => origin.trim())
        .filter(Boolean),
    ),
  ),
});

export type Settings = z.output<typeof settingsSchema>;

export type ConfigResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/** Human-readable problems, each naming the variable and field, never echoing a value. */
export function describeIssues(source: string, error: z.core.$ZodError): string[] {
  return error.issues.map((issue) => {
    const field = issue.path.length > 0 ? `${source}.${issue.path.join(".")}` : source;
    return `${field}: ${issue.message}`;
  });
}

interface SettingsInput {
  DEEPSEEK_BASE_URL?: string;
  MAX_BODY_BYTES?: string;
  CORS_ORIGINS?: string;
}

const memo = new Map<string, ConfigResult<Settings>>();
let last: { input: SettingsInput; result: ConfigResult<Settings> } | undefined;

/** Parses the Worker's plain vars once per distinct value set (env is stable within an isolate). */
export function loadSettings(env: SettingsInput): ConfigResult<Settings> {
  // Every request asks: the same three strings as last time need no key built.
  if (
    last &&
    last.input.DEEPSEEK_BASE_URL === env.DEEPSEEK_BASE_URL &&
    last.input.MAX_BODY_BYTES === env.MAX_BODY_BYTES &&
    last.input.CORS_ORIGINS === env.CORS_ORIGINS
  )
    return last.result;
  const result = parseSettings(env);
  last = {
    input: {
      DEEPSEEK_BASE_URL: env.DEEPSEEK_BASE_URL,
      MAX_BODY_BYTES: env.MAX_BODY_BYTES,
      CORS_ORIGINS: env.CORS_ORIGINS,
    },
    result,
  };
  return result;
}

function parseSettings(env: SettingsInput): ConfigResult<Settings> {
  const input = {
    DEEPSEEK_BASE_URL: env.DEEPSEEK_BASE_URL,
    MAX_BODY_BYTES: env.MAX_BODY_BYTES,
    CORS_ORIGINS: env.CORS_ORIGINS,
  };
  const key = JSON.stringify(input);
  const cached = memo.get(key);
  if (cached) return cached;
  const parsed = settingsSchema.safeParse(input);
  const result: ConfigResult<Settings> = parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, errors: describeIssues("vars", parsed.error) };
  if (memo.size > 16) memo.clear();
  memo.set(key, result);
  return result;
}

export function misconfigured(): RouterError {
  return new RouterError(
    "configuration_error",
    "The router is misconfigured and cannot serve requests; its operator can see why at /healthz.",
  );
}
