import { defaultPolicy } from "./default-policy";
import { type Policy, policySchema } from "./policy";
import { type ConfigResult, describeIssues } from "./settings";

/** KV key of a hot-reloadable policy; see docs/storage-schema.md. */
export const POLICY_KV_KEY = "config:policy";
const RELOAD_INTERVAL_MS = 30_000;

interface ActivePolicy {
  policy: Policy;
  source: "default" | "ROUTER_POLICY" | "kv";
  /** Set when a newer policy was rejected and this isolate keeps serving the last valid one. */
  rejected?: string[];
}

interface PolicyEnv {
  ROUTER_POLICY?: string;
  DEEPSEEK_BASE_URL?: string;
  CACHE: KVNamespace;
}

/** Parses and checks a policy, including that every secret it names is set. Pure apart from `env` reads. */
export function parsePolicy(raw: unknown, source: string, env: object): ConfigResult<Policy> {
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) return { ok: false, errors: describeIssues(source, parsed.error) };
  const errors: string[] = [];
  for (const [poolName, pool] of Object.entries(parsed.data.pools)) {
    pool.targets.forEach((target, index) => {
      const secret = target.keySecret && (env as Record<string, unknown>)[target.keySecret];
      if (target.keySecret && (typeof secret !== "string" || secret === "")) {
        errors.push(
          `${source}.pools.${poolName}.targets.${index}.keySecret: secret ${target.keySecret} is not set`,
        );
      }
    });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: parsed.data };
}

function staticPolicy(env: PolicyEnv): ConfigResult<ActivePolicy> {
  if (env.ROUTER_POLICY) {
    let json: unknown;
    try {
      json = JSON.parse(env.ROUTER_POLICY);
    } catch {
      return { ok: false, errors: ["ROUTER_POLICY: not valid JSON"] };
    }
    const result = parsePolicy(json, "ROUTER_POLICY", env);
    return result.ok ? { ok: true, value: { policy: result.value, source: "ROUTER_POLICY" } } : result;
  }
  const result = parsePolicy(defaultPolicy(env.DEEPSEEK_BASE_URL ?? ""), "default policy", env);
  return result.ok ? { ok: true, value: { policy: result.value, source: "default" } } : result;
}

interface Loaded {
  /** The deployed inputs and which referenced secrets are set: a change to either means re-parse. */
  staticKey: string;
  result: ConfigResult<ActivePolicy>;
  kvText: string | null;
  checkedAt: number;
}

let loaded: Loaded | undefined;

/**
 * The policy for this request. A policy in KV (`config:policy`) overrides the deployed one and is
 * re-read at most every 30 s per isolate, so a change needs no redeploy. A KV policy that fails
 * validation is never applied: every isolate serves the deployed policy instead and says so, loudly,
 * on /healthz ("degraded", with the rejected fields) and in the log; a typo cannot take traffic down.
 */
export async function activePolicy(env: PolicyEnv, now: number): Promise<ConfigResult<ActivePolicy>> {
  const staticKey = staticKeyOf(env);
  if (loaded && loaded.staticKey === staticKey && now - loaded.checkedAt < RELOAD_INTERVAL_MS)
    return loaded.result;

  const kvText = await env.CACHE.get(POLICY_KV_KEY, { cacheTtl: 30 }).catch(() => loaded?.kvText ?? null);
  if (loaded && loaded.staticKey === staticKey && kvText === loaded.kvText) {
    loaded.checkedAt = now;
    return loaded.result;
  }
  const result = kvText === null ? staticPolicy(env) : kvPolicy(kvText, env);
  if (!result.ok || result.value.rejected) {
    console.error(
      JSON.stringify({ event: "policy_invalid", errors: result.ok ? result.value.rejected : result.errors }),
    );
  }
  loaded = { staticKey, result, kvText, checkedAt: now };
  return result;
}

function kvPolicy(text: string, env: PolicyEnv): ConfigResult<ActivePolicy> {
  let result: ConfigResult<Policy>;
  try {
    result = parsePolicy(JSON.parse(text), "kv:config:policy", env);
  } catch {
    result = { ok: false, errors: ["kv:config:policy: not valid JSON"] };
  }
  if (result.ok) return { ok: true, value: { policy: result.value, source: "kv" } };
  const deployed = staticPolicy(env);
  return deployed.ok ? { ok: true, value: { ...deployed.value, rejected: result.errors } } : deployed;
}

/** The deployed inputs' key, made once per env object: a Worker's env does not change under it. */
const staticKeys = new WeakMap<PolicyEnv, string>();

function staticKeyOf(env: PolicyEnv): string {
  let key = staticKeys.get(env);
  if (key === undefined) {
    key = `${env.ROUTER_POLICY ?? ""}|${env.DEEPSEEK_BASE_URL ?? ""}|${secretsSet(env)}`;
    staticKeys.set(env, key);
  }
  return key;
}

/** Which secrets a policy can name are set; secret names follow the SECRET_NAME convention. */
function secretsSet(env: object): string {
  let set = "";
  for (const [name, value] of Object.entries(env)) {
    if (/^[A-Z][A-Z0-9_]*$/.test(name) && typeof value === "string" && value !== "") set += `${name},`;
  }
  return set;
}

/** For tests: forget what this isolate loaded. */
export function resetPolicyCache(): void {
  loaded = undefined;
}
