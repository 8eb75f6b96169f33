import { type Context, Hono } from "hono";
import { countMessageTokens, prepareMessages } from "./anthropic";
import { authHeaderFormat, authInvalidKey, type SimError } from "./errors";
import { createRng } from "./hash";
import { traceId } from "./ids";
import { listedModels } from "./models";
import { mergeSimOptions, parseSimOptions, type SimOptions, type SimOptionsPatch } from "./options";
import { prepareChat, prepareFim } from "./prepare";
import { prepareResponse } from "./responses";
import { serve } from "./serve";
import { balanceOf, createState, resetState, type SimState } from "./state";
import { bump, RECENT_LIMIT, type RecentRequest, type SimStats } from "./stats";

export type { SimOptionsPatch } from "./options";
export type { SimStats } from "./stats";

export interface Simulator {
  /** Serves the DeepSeek API and, under `/_sim/`, its own control API (stats, config, reset). */
  app: Hono;
  stats(): SimStats;
  /** Back to the creation options; clears counters, prefix cache, spend and the fault RNG. */
  reset(): void;
  /** Deep-merges `patch` over the current options (validated; throws SimOptionsError). */
  configure(patch: SimOptionsPatch): void;
  /** Current options; `faultScript` shows the scripted faults not yet consumed. */
  options(): SimOptions;
}

type SimEnv = { Variables: { record: RecentRequest; apiKey: string } };

const CHAT_PATHS = ["/chat/completions", "/v1/chat/completions", "/beta/chat/completions"];
const FIM_PATHS = ["/beta/completions"];
const MODEL_PATHS = ["/models", "/v1/models"];
const BALANCE_PATHS = ["/user/balance", "/v1/user/balance"];
/** DeepSeek's Anthropic base is `/anthropic`; the SDK appends `/v1/messages`, plain clients may omit `/v1`. */
const MESSAGES_PATHS = ["/anthropic/v1/messages", "/anthropic/messages"];
const COUNT_TOKENS_PATH = "/anthropic/v1/messages/count_tokens";
/** DeepSeek documents `/responses` only; `/v1/responses` is served like the other `/v1` aliases. */
const RESPONSES_PATHS = ["/responses", "/v1/responses"];

function errorResponse(o: SimOptions, e: SimError): Response {
  const headers: Record<string, string> = { "content-type": e.contentType };
  if (o.retryAfter && (e.status === 429 || e.status === 503))
    headers["retry-after"] = String(o.retryAfterSeconds);
  return new Response(e.body, { status: e.status, headers });
}

/** `Authorization: Bearer <key>`; any `sk-` key when no apiKeys are configured. */
function authenticate(header: string | undefined, apiKeys: readonly string[]): { key: string } | SimError {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!match?.[1]) return authHeaderFormat();
  const key = match[1];
  const known = apiKeys.length > 0 ? apiKeys.includes(key) : key.startsWith("sk-");
  return known ? { key } : authInvalidKey(key);
}

function money(n: number): string {
  return n.toFixed(2);
}

function controlRoutes(app: Hono, sim: Simulator): void {
  app.get("/_sim/stats", (c) => c.json(sim.stats()));
  app.get("/_sim/config", (c) => c.json(sim.options()));
  app.patch("/_sim/config", async (c) => {
    try {
      sim.configure(await c.req.json());
      return c.json(sim.options());
    } catch (e) {
      return c.json({ error: { message: e instanceof Error ? e.message : String(e) } }, 400);
    }
  });
  app.post("/_sim/reset", (c) => {
    sim.reset();
    return c.json({ ok: true });
  });
}

/** Bytes of each answer kept in `recent[].sent`. */
const SENT_LIMIT = 256 * 1024;

function apiRoutes(app: Hono<SimEnv>, state: SimState): void {
  app.use("*", async (c, next) => {
    if (c.req.path.startsWith("/_sim/")) return next();
    const stats = state.stats;
    stats.requests++;
    bump(stats.byPath, c.req.path);
    const record: RecentRequest = { path: c.req.path, method: c.req.method, at: Date.now() };
    const authorization = c.req.header("authorization");
    if (authorization !== undefined) record.authorization = authorization;
    const acceptEncoding = c.req.header("accept-encoding");
    if (acceptEncoding !== undefined) record.acceptEncoding = acceptEncoding;
    for (const name of ["anthropic-version", "anthropic-beta"]) {
      const value = c.req.header(name);
      if (value !== undefined) record.anthropic = { ...record.anthropic, [name]: value };
    }
    stats.recent.push(record);
    if (stats.recent.length > RECENT_LIMIT) stats.recent.shift();
    c.set("record", record);
    await next();
    record.status = c.res.status;
    bump(stats.byStatus, String(c.res.status));
  });
  const auth = async (c: Context<SimEnv>, next: () => Promise<void>) => {
    // The Anthropic base also takes `x-api-key`; when both are sent, Authorization wins (§1.2).
    const apiKey = c.req.path.startsWith("/anthropic/") ? c.req.header("x-api-key") : undefined;
    const header = c.req.header("authorization") ?? (apiKey ? `Bearer ${apiKey}` : undefined);
    const result = authenticate(header, state.options.apiKeys);
    if (!("key" in result)) return errorResponse(state.options, result);
    c.set("apiKey", result.key);
    await next();
  };
  const generation = (prepare: typeof prepareChat) => async (c: Context<SimEnv>) => {
    const key = c.get("apiKey");
    const ready = prepare(state.options, await c.req.text(), key, c.get("record"));
    if (!ready.ok) return errorResponse(state.options, ready.error);
    const record = c.get("record");
    const outcome = serve(state, ready.prepared, key, c.req.raw.signal, (text) => {
      if ((record.sent?.length ?? 0) < SENT_LIMIT) record.sent = (record.sent ?? "") + text;
    });
    return outcome.kind === "error" ? errorResponse(state.options, outcome.error) : outcome.response;
  };
  for (const path of CHAT_PATHS) app.post(path, auth, generation(prepareChat));
  for (const path of FIM_PATHS) app.post(path, auth, generation(prepareFim));
  // Neither surface existed in the legacy (2025H1) era: there they are unknown paths.
  const since2025H2 = async (c: Context<SimEnv>, next: () => Promise<void>) =>
    state.options.era === "legacy" ? c.body(null, 404) : next();
  for (const path of MESSAGES_PATHS) app.post(path, since2025H2, auth, generation(prepareMessages));
  for (const path of RESPONSES_PATHS) app.post(path, since2025H2, auth, generation(prepareResponse));
  app.post(COUNT_TOKENS_PATH, since2025H2, auth, async (c) => {
    const counted = countMessageTokens(state.options, await c.req.text());
    if (!counted.ok) return errorResponse(state.options, counted.error);
    return c.json({ input_tokens: counted.tokens });
  });
  for (const path of MODEL_PATHS) {
    app.get(path, auth, (c) =>
      c.json({
        object: "list",
        data: listedModels(state.options.era).map((m) => ({
          id: m.id,
          object: "model",
          owned_by: "deepseek",
        })),
      }),
    );
  }
  for (const path of BALANCE_PATHS) {
    app.get(path, auth, (c) => {
      const balance = balanceOf(state, c.get("apiKey"));
      return c.json({
        is_available: balance > 0,
        balance_infos: [
          {
            currency: state.options.currency,
            total_balance: money(balance),
            granted_balance: money(0),
            topped_up_balance: money(balance),
          },
        ],
      });
    });
  }
}

/** One simulated DeepSeek account set: its own options, counters, slots, prefix cache and balances. */
export function createSimulator(options?: SimOptionsPatch): Simulator {
  const state = createState(parseSimOptions(options ?? {}));
  const app = new Hono();
  const sim: Simulator = {
    app,
    stats: () =>
      structuredClone({
        ...state.stats,
        inFlight: state.capacity.inFlight,
        peakInFlight: state.capacity.peak,
        queuedNow: state.capacity.waiting,
      }),
    reset: () => resetState(state),
    configure(patch) {
      state.options = mergeSimOptions(state.options, patch);
      if (patch.faultScript) state.script = [...state.options.faultScript];
      if (patch.seed !== undefined) state.faultRng = createRng(state.options.seed);
      state.capacity.pump();
    },
    options: () => structuredClone({ ...state.options, faultScript: state.script }),
  };
  app.use("*", async (c, next) => {
    await next();
    c.res.headers.set("x-ds-trace-id", traceId());
  });
  controlRoutes(app, sim);
  const api = new Hono<SimEnv>();
  apiRoutes(api, state);
  app.route("/", api);
  app.notFound((c) => c.body(null, 404));
  return sim;
}
