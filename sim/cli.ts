import { defaultSimOptions } from "./options";

/**
 * Command-line and environment parsing for `npm run sim` (pure; sim/node.ts does the I/O).
 * Every flag `--some-flag` also reads `SIM_SOME_FLAG`; flags win over the environment.
 */

type Kind = "int" | "number" | "bool" | "string" | "list" | "json" | "errorRate";

interface FlagSpec {
  flag: string;
  kind: Kind;
  /** Where the value goes in the options patch; empty for flags that are not simulator options. */
  path: readonly string[];
  help: string;
  /** Shown instead of the value from defaultSimOptions. */
  shownDefault?: string;
}

const DEFAULT_PORT = 8788;

export const FLAGS: readonly FlagSpec[] = [
  {
    flag: "port",
    kind: "int",
    path: [],
    help: "port on 127.0.0.1 (0 = pick a free one)",
    shownDefault: `${DEFAULT_PORT}`,
  },
  {
    flag: "config",
    kind: "string",
    path: [],
    help: "JSON file of options, applied before flags and env",
    shownDefault: "none",
  },
  { flag: "era", kind: "string", path: ["era"], help: "v41 | v4 | legacy: model list, limits, id formats" },
  {
    flag: "concurrency",
    kind: "int",
    path: ["concurrency"],
    help: "max in-flight requests per API key (0 = unlimited)",
  },
  {
    flag: "overload",
    kind: "string",
    path: ["overload"],
    help: "reject429 | queue | reject503 when over concurrency",
  },
  {
    flag: "queue-keep-alive-ms",
    kind: "int",
    path: ["queueKeepAliveMs"],
    help: "keep-alive interval while queued or stalled (0 = none)",
  },
  {
    flag: "queue-timeout-ms",
    kind: "int",
    path: ["queueTimeoutMs"],
    help: "queued this long: 200 with no data, then close",
  },
  { flag: "ttft-ms", kind: "int", path: ["ttftMs"], help: "time to first token after admission" },
  {
    flag: "tokens-per-s",
    kind: "number",
    path: ["tokensPerS"],
    help: "token pacing (0 = as fast as possible)",
  },
  { flag: "min-answer-tokens", kind: "int", path: ["minAnswerTokens"], help: "shortest natural answer" },
  {
    flag: "max-answer-tokens",
    kind: "int",
    path: ["maxAnswerTokens"],
    help: "longest natural answer (before max_tokens)",
  },
  {
    flag: "retry-after",
    kind: "bool",
    path: ["retryAfter"],
    help: "send Retry-After on 429/503 (DeepSeek does not)",
  },
  { flag: "retry-after-seconds", kind: "int", path: ["retryAfterSeconds"], help: "value of Retry-After" },
  {
    flag: "api-keys",
    kind: "list",
    path: ["apiKeys"],
    help: "comma-separated accepted keys (none = any sk-...)",
    shownDefault: "any",
  },
  { flag: "balance", kind: "number", path: ["balance"], help: "starting balance per key; <= 0 gives 402" },
  { flag: "currency", kind: "string", path: ["currency"], help: "USD | CNY for /user/balance and billing" },
  { flag: "charge-usage", kind: "bool", path: ["chargeUsage"], help: "deduct list prices from the balance" },
  {
    flag: "billing-multiplier",
    kind: "number",
    path: ["billingMultiplier"],
    help: "bill this many times list price (seeds an under-count)",
  },
  {
    flag: "error-rate",
    kind: "errorRate",
    path: ["faults", "statusRates"],
    help: "STATUS=RATE, repeatable or comma-separated (429, 500, 502, 503, 504)",
    shownDefault: "none",
  },
  {
    flag: "cut-rate",
    kind: "number",
    path: ["faults", "cutMidStreamRate"],
    help: "probability of a connection reset mid-answer",
  },
  {
    flag: "stall-first-rate",
    kind: "number",
    path: ["faults", "stallBeforeFirstTokenRate"],
    help: "probability of a stall before the first token",
  },
  {
    flag: "stall-mid-rate",
    kind: "number",
    path: ["faults", "stallMidStreamRate"],
    help: "probability of a stall mid-stream (no finish, no [DONE])",
  },
  {
    flag: "stall-ms",
    kind: "int",
    path: ["faults", "stallMs"],
    help: "how long a stall lasts before the server closes",
  },
  {
    flag: "stall-keep-alive",
    kind: "bool",
    path: ["faults", "stallKeepAlive"],
    help: "keep sending keep-alives during stalls",
  },
  {
    flag: "blank-rate",
    kind: "number",
    path: ["faults", "blankBodyRate"],
    help: "probability of a 200 whose body is only keep-alives",
  },
  {
    flag: "insufficient-rate",
    kind: "number",
    path: ["faults", "insufficientResourceRate"],
    help: "probability of finish_reason insufficient_system_resource",
  },
  { flag: "seed", kind: "int", path: ["seed"], help: "seed of the fault RNG" },
  {
    flag: "fault-script",
    kind: "json",
    path: ["faultScript"],
    help: 'JSON array of faults for the next requests, e.g. [{"kind":"status","status":503}]',
    shownDefault: "[]",
  },
  {
    flag: "keep-alive-before-first-token-ms",
    kind: "int",
    path: ["keepAliveBeforeFirstTokenMs"],
    help: "keep-alive interval during the TTFT wait (0 = none)",
  },
  {
    flag: "separate-usage-chunk",
    kind: "bool",
    path: ["separateUsageChunk"],
    help: "OpenAI-style usage chunk instead of usage on the finish chunk",
  },
  {
    flag: "prefix-cache-delay-ms",
    kind: "int",
    path: ["prefixCacheDelayMs"],
    help: "age before a stored prefix can hit",
  },
];

export class CliError extends Error {
  override name = "CliError";
}

interface CliResult {
  help: boolean;
  port: number;
  config?: string;
  /** Deep partial of SimOptions. */
  patch: Record<string, unknown>;
}

const envName = (flag: string): string => `SIM_${flag.toUpperCase().replaceAll("-", "_")}`;

function convert(spec: FlagSpec, raw: string, source: string): unknown {
  const bad = (what: string) => new CliError(`${source}: expected ${what}, got ${JSON.stringify(raw)}`);
  switch (spec.kind) {
    case "int": {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isInteger(n)) throw bad("an integer");
      return n;
    }
    case "number": {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n)) throw bad("a number");
      return n;
    }
    case "bool":
      if (/^(true|1|yes|on)$/i.test(raw)) return true;
      if (/^(false|0|no|off)$/i.test(raw)) return false;
      throw bad("true or false");
    case "list":
      return raw
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    case "json":
      try {
        return JSON.parse(raw);
      } catch {
        throw bad("JSON");
      }
    case "errorRate": {
      const rates: Record<string, number> = {};
      for (const part of raw.split(",").filter((s) => s.trim())) {
        const [status, rate] = part.split("=").map((s) => s.trim());
        const n = Number(rate);
        if (!status || !/^\d{3}$/.test(status) || rate === undefined || !Number.isFinite(n))
          throw bad("STATUS=RATE");
        rates[status] = n;
      }
      return rates;
    }
    default:
      return raw;
  }
}

function assign(patch: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = patch;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    const child = typeof next === "object" && next !== null ? (next as Record<string, unknown>) : {};
    node[key] = child;
    node = child;
  }
  const last = path.at(-1);
  if (last === undefined) return;
  const prev = node[last];
  const merge =
    typeof prev === "object" && prev !== null && !Array.isArray(prev) && typeof value === "object";
  node[last] = merge ? { ...prev, ...(value as object) } : value;
}

export function parseCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): CliResult {
  const result: CliResult = { help: false, port: DEFAULT_PORT, patch: {} };
  const set = (spec: FlagSpec, raw: string, source: string) => {
    const value = convert(spec, raw, source);
    if (spec.flag === "port") result.port = value as number;
    else if (spec.flag === "config") result.config = value as string;
    else assign(result.patch, spec.path, value);
  };
  for (const spec of FLAGS) {
    const raw = env[envName(spec.flag)];
    if (raw !== undefined && raw !== "") set(spec, raw, envName(spec.flag));
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--help" || arg === "-h") {
      result.help = true;
      continue;
    }
    const m = /^--(no-)?([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    const spec = m && FLAGS.find((f) => f.flag === m[2]);
    if (!m || !spec) throw new CliError(`unknown argument ${arg} (see --help)`);
    if (m[1] && spec.kind !== "bool") throw new CliError(`--no-${spec.flag} is only for on/off flags`);
    let raw = m[3];
    if (raw === undefined && spec.kind === "bool") raw = m[1] ? "false" : "true";
    if (raw === undefined) {
      raw = argv[++i];
      if (raw === undefined) throw new CliError(`--${spec.flag} needs a value`);
    }
    set(spec, raw, `--${spec.flag}`);
  }
  return result;
}

function defaultOf(spec: FlagSpec): string {
  if (spec.shownDefault !== undefined) return spec.shownDefault;
  let node: unknown = defaultSimOptions;
  for (const key of spec.path) node = (node as Record<string, unknown>)[key];
  return String(node);
}

export function helpText(): string {
  const rows = FLAGS.map((f) => {
    const value = f.kind === "bool" ? "" : ` <${f.kind === "errorRate" ? "S=R" : f.kind}>`;
    return [`  --${f.flag}${value}`, `${f.help} [default ${defaultOf(f)}; env ${envName(f.flag)}]`] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    "DeepSeek API simulator — serves /chat/completions, /beta/completions, /models, /user/balance",
    "",
    "Usage: npm run sim -- [flags]",
    "",
    ...rows.map(([left, right]) => left.padEnd(width) + right),
    `${"  --no-<flag>".padEnd(width)}turns an on/off flag off`,
    `${"  -h, --help".padEnd(width)}this text`,
    "",
    "Control API: GET /_sim/stats, GET|PATCH /_sim/config, POST /_sim/reset, POST /_sim/instances (see docs/simulator.md)",
  ].join("\n");
}
