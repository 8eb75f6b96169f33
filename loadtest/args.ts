import type { ArrivalProcess } from "./arrivals";
import type { ScenarioOverrides } from "./scenarios";

const DEFAULT_BASE_URL = "http://127.0.0.1:8787";
const DEFAULT_KEY = "sk-local-dev";

export interface CliOptions {
  scenario?: string;
  file?: string;
  baseUrl: string;
  key: string;
  /** Whether --key or ROUTER_KEY chose the key (then --local keeps it). */
  keyGiven: boolean;
  overrides: ScenarioOverrides;
  out?: string;
  local: boolean;
  allowRemote: boolean;
  html: boolean;
  quiet: boolean;
  help: boolean;
  list: boolean;
}

export const USAGE = `Usage: npm run loadtest -- <scenario | file.json> [options]

Scenarios: constant, ramp, spike, soak, overload, closed, or custom --file <path.json>
(a path ending in .json works in place of the name). --list prints them.

Target
  --base-url <url>      router or API base URL (default ${DEFAULT_BASE_URL})
  --key <key>           bearer key (default: $ROUTER_KEY, else ${DEFAULT_KEY})
  --local               start the simulator and the router locally and test them
  --allow-remote        allow a target that is not loopback

Load and bounds
  --duration <t>        sending phase, e.g. 30, 30s, 5m (bounded; required by every scenario)
  --max-requests <n>    stop scheduling after n requests
  --max-in-flight <n>   outstanding requests at most; later ones wait (their wait counts)
  --timeout <t>         per-request timeout, and the grace period after the sending phase
  --rate <rps>          open loop: scale the scenario so its peak rate is rps
  --arrival <p>         open loop: fixed | poisson
  --vus <n>             closed loop with n virtual users instead
  --think <t>           closed loop: pause between a user's requests, e.g. 500ms
  --seed <n>            seed for arrivals and the request mix

Request mix
  --stream-ratio <0..1> share of streamed requests
  --repeat-ratio <0..1> share of requests that repeat an earlier prompt, deterministically (cache hits)

Output
  --out <dir>           report directory (default loadtest/out/<timestamp>)
  --no-html             skip the HTML report
  --quiet               no live progress line
  -h, --help            this text`;

type ParseResult = { ok: true; options: CliOptions } | { ok: false; error: string };

/** Parses the command line. Pure: the environment comes in as an argument. */
export function parseArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): ParseResult {
  const envKey = env.ROUTER_KEY;
  const o: CliOptions = {
    baseUrl: DEFAULT_BASE_URL,
    key: envKey || DEFAULT_KEY,
    keyGiven: Boolean(envKey),
    overrides: {},
    local: false,
    allowRemote: false,
    html: true,
    quiet: false,
    help: false,
    list: false,
  };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith("--") && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined) throw new Error(`${name} needs a value`);
      i += 1;
      return next;
    };
    try {
      if (!applyFlag(o, name, value)) {
        if (arg.startsWith("-")) return { ok: false, error: `unknown option ${arg}` };
        positional.push(arg);
      }
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }
  if (positional.length > 1)
    return { ok: false, error: `one scenario at a time, got: ${positional.join(" ")}` };
  o.scenario = positional[0];
  return { ok: true, options: o };
}

function applyFlag(o: CliOptions, name: string, value: () => string): boolean {
  const ov = o.overrides;
  switch (name) {
    case "-h":
    case "--help":
      o.help = true;
      return true;
    case "--list":
      o.list = true;
      return true;
    case "--file":
      o.file = value();
      return true;
    case "--base-url":
      o.baseUrl = parseUrl(value());
      return true;
    case "--key":
      o.key = value();
      o.keyGiven = true;
      return true;
    case "--local":
      o.local = true;
      return true;
    case "--allow-remote":
      o.allowRemote = true;
      return true;
    case "--duration":
      ov.durationS = parseDurationS(value(), name);
      return true;
    case "--timeout":
      ov.timeoutS = parseDurationS(value(), name);
      return true;
    case "--think":
      ov.thinkMs = parseDurationS(value(), name) * 1000;
      return true;
    case "--max-requests":
      ov.maxRequests = parseCount(value(), name);
      return true;
    case "--max-in-flight":
      ov.maxInFlight = parseCount(value(), name);
      return true;
    case "--vus":
      ov.vus = parseCount(value(), name);
      return true;
    case "--seed":
      ov.seed = parseCount(value(), name, 0);
      return true;
    case "--rate":
      ov.rate = parsePositive(value(), name);
      return true;
    case "--arrival":
      ov.arrival = parseArrival(value());
      return true;
    case "--stream-ratio":
      ov.streamRatio = parseRatio(value(), name);
      return true;
    case "--repeat-ratio":
      ov.repeatRatio = parseRatio(value(), name);
      return true;
    case "--out":
      o.out = value();
      return true;
    case "--no-html":
      o.html = false;
      return true;
    case "--quiet":
      o.quiet = true;
      return true;
    default:
      return false;
  }
}

/** "30", "30s", "500ms", "5m", "1h" → seconds. */
export function parseDurationS(text: string, flag = "duration"): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`${flag}: expected a duration like 30s, 500ms or 5m, got "${text}"`);
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const s = unit === "ms" ? n / 1000 : unit === "m" ? n * 60 : unit === "h" ? n * 3600 : n;
  if (!(s > 0)) throw new Error(`${flag} must be positive`);
  return s;
}

function parseCount(text: string, flag: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`${flag}: expected an integer ≥ ${min}, got "${text}"`);
  return n;
}

function parsePositive(text: string, flag: string): number {
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${flag}: expected a positive number, got "${text}"`);
  return n;
}

function parseRatio(text: string, flag: string): number {
  const n = Number(text);
  if (!(n >= 0 && n <= 1)) throw new Error(`${flag}: expected a number between 0 and 1, got "${text}"`);
  return n;
}

function parseArrival(text: string): ArrivalProcess {
  if (text === "fixed" || text === "poisson") return text;
  throw new Error(`--arrival: expected fixed or poisson, got "${text}"`);
}

function parseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`--base-url: not a URL: "${text}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error("--base-url must be http or https");
  return text.replace(/\/+$/, "");
}

/** True for localhost, 127.0.0.0/8 and ::1: the only targets allowed without --allow-remote. */
export function isLoopbackUrl(text: string): boolean {
  let host: string;
  try {
    host = new URL(text).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return (
    host === "localhost" || host.endsWith(".localhost") || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host)
  );
}
