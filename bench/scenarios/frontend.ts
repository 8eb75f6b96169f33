import { jwtVerify } from "jose";
import { LOCAL_FRONTEND_SIGNING_KEY, LOCAL_ROUTER_KEY, tenantsConfig } from "../../scripts/local-config";
import { startLocalStack } from "../../scripts/stack";
import { signingKeys } from "../../src/frontend/signing";
import { type Measurement, measureRequests } from "../lib/measure";
import { formatMs, median, ratio } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";

const CONCURRENCY = 8;
const ROUNDS = 6;
const PATHS = ["router key", "frontend token"] as const;
type Path = (typeof PATHS)[number];

const body = {
  model: "deepseek-v4-flash",
  messages: [{ role: "user", content: "Frontend benchmark: a short question from a page." }],
  thinking: { type: "disabled" },
  max_tokens: 64,
};

/**
 * Issue 23: relay throughput with a frontend token (signature verified in the isolate, the end user's
 * limits reserved) against the router key of the same tenant, through one router in one run, rounds
 * alternating. Also the CPU of one verification, measured with the same keys and jose on Node.
 */
export const frontendBench: BenchScenario = {
  name: "frontend",
  title: "Frontend tokens: relay throughput with a token against a router key",
  async run(ctx): Promise<BenchSection> {
    const perRound = ctx.quick ? 60 : 300;
    const high = { requestsPerMinute: 1_000_000, tokensPerMinute: 1_000_000_000, usdPerDay: 1_000_000 };
    const tenants = tenantsConfig([
      { id: "local", key: LOCAL_ROUTER_KEY, frontend: { mint: true, perUser: high } },
    ]);
    const stack = await startLocalStack({
      sim: { ttftMs: 0, tokensPerS: 0 },
      vars: { ROUTER_TENANTS: tenants, FRONTEND_SIGNING_KEY: LOCAL_FRONTEND_SIGNING_KEY },
    });
    const results: Record<Path, Measurement[]> = { "router key": [], "frontend token": [] };
    let token = "";
    try {
      const minted = await fetch(`${stack.routerUrl}/v1/frontend/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${LOCAL_ROUTER_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ sub: "bench-user", ttl_seconds: 3600 }),
      });
      token = ((await minted.json()) as { token: string }).token;
      for (let round = 0; round < ROUNDS; round++) {
        for (const path of round % 2 === 0 ? PATHS : [...PATHS].reverse()) {
          const m = await measureRequests({
            baseUrl: stack.routerUrl,
            key: path === "router key" ? LOCAL_ROUTER_KEY : token,
            body,
            n: perRound,
            concurrency: CONCURRENCY,
            warmup: round === 0 ? 20 : 0,
          });
          results[path].push(m);
          ctx.log(`round ${round + 1}/${ROUNDS} ${path}: ${m.rps.toFixed(0)} req/s, ok ${m.ok}/${m.n}`);
        }
      }
    } finally {
      await stack.close();
    }
    const verifyUs = await verificationMicros(token, ctx.quick ? 500 : 3_000);
    const rps = (path: Path) => {
      const wall = results[path].reduce((sum, m) => sum + m.wallMs, 0);
      return wall > 0 ? (results[path].reduce((sum, m) => sum + m.n, 0) * 1000) / wall : 0;
    };
    const p50 = (path: Path) => median(results[path].map((m) => m.latencyMs.p50));
    const ok = (path: Path) => results[path].reduce((sum, m) => sum + m.ok, 0);
    const paired = median(
      results["frontend token"].map((m, i) => ratio(m.rps, results["router key"][i]?.rps ?? Number.NaN)),
    );
    return {
      title: frontendBench.title,
      notes: [
        `${ROUNDS} alternating rounds × ${perRound} non-streamed requests per credential, ${CONCURRENCY} in flight, simulator answering at once.`,
        "The token's end user has per-user requests, tokens and dollars limits (high enough never to refuse); the router key's tenant has none.",
        `One verification (jose jwtVerify, Ed25519, key imported once) costs ${verifyUs.toFixed(1)} µs of CPU on Node 22 on this machine.`,
      ],
      columns: ["metric", "router key", "frontend token", "token ÷ key"],
      rows: [
        {
          metric: "throughput (req/s)",
          "router key": rps("router key").toFixed(0),
          "frontend token": rps("frontend token").toFixed(0),
          "token ÷ key": `${ratio(rps("frontend token"), rps("router key")).toFixed(2)}× (median paired round ${paired.toFixed(2)}×)`,
        },
        {
          metric: "latency p50 (median of rounds)",
          "router key": formatMs(p50("router key")),
          "frontend token": formatMs(p50("frontend token")),
          "token ÷ key": `${ratio(p50("frontend token"), p50("router key")).toFixed(2)}×`,
        },
        {
          metric: "answered 200",
          "router key": ok("router key"),
          "frontend token": ok("frontend token"),
          "token ÷ key": "",
        },
      ],
      goals: [
        {
          goal: "throughput with a frontend token within 10% of a router key (median paired round)",
          measured: `${paired.toFixed(2)}×`,
          met: paired >= 0.9,
        },
      ],
    };
  },
};

/** CPU per verification: `n` verifications of one token, after a warm-up. */
async function verificationMicros(token: string, n: number): Promise<number> {
  const keys = await signingKeys({ FRONTEND_SIGNING_KEY: LOCAL_FRONTEND_SIGNING_KEY });
  const key = keys.current.publicKey;
  const options = { issuer: "deepseek-router", audience: "deepseek-router/frontend", algorithms: ["EdDSA"] };
  for (let i = 0; i < 100; i++) await jwtVerify(token, key, options);
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await jwtVerify(token, key, options);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}
