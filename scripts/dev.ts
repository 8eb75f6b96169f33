import { spawn } from "node:child_process";
import { startSimServer } from "../sim/node";
import { ROOT } from "./build";
import {
  adminKeyDigest,
  LOCAL_ADMIN_KEY,
  LOCAL_FRONTEND_SIGNING_KEY,
  LOCAL_ROUTER_KEY,
  LOCAL_UPSTREAM_KEY,
  tenantsConfig,
} from "./local-config";

/**
 * `npm run dev`: the DeepSeek simulator on Node, and the router under `wrangler dev` pointed at it, with
 * a local router key. No account, secret or network is needed.
 */
const port = Number(process.env.PORT ?? 8787);
const simPort = Number(process.env.SIM_PORT ?? port + 1);

const sim = await startSimServer({ port: simPort });
// The admin key's digest is not a credential either: it only verifies the local admin key.
// The local frontend signing key is optional in production, so wrangler would not read it from the
// environment like the required secrets below: it goes in as a var.
const vars: Record<string, string> = {
  DEEPSEEK_BASE_URL: sim.url,
  ROUTER_ADMIN_KEY: adminKeyDigest(),
  FRONTEND_SIGNING_KEY: LOCAL_FRONTEND_SIGNING_KEY,
};
// Wrangler reads the required secrets from the environment; these are local, not credentials.
const secrets = { DEEPSEEK_API_KEY: LOCAL_UPSTREAM_KEY, ROUTER_TENANTS: tenantsConfig() };
const wrangler = spawn(
  "wrangler",
  [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
    ...process.argv.slice(2),
  ],
  { cwd: ROOT, stdio: "inherit", env: { ...process.env, ...secrets, WRANGLER_SEND_METRICS: "false" } },
);

console.log(`
  DeepSeek router (dev)   http://127.0.0.1:${port}      (OpenAI base URL: http://127.0.0.1:${port}/v1)
  Router key              ${LOCAL_ROUTER_KEY}
  Admin key               ${LOCAL_ADMIN_KEY}      (operator dashboard: http://127.0.0.1:${port}/operator, Prometheus: /metrics)
  Upstream simulator      ${sim.url}

  Frontend tokens: the router key may mint short-lived end-user tokens for browsers:
    curl -s http://127.0.0.1:${port}/v1/frontend/tokens -H 'authorization: Bearer ${LOCAL_ROUTER_KEY}' \
      -H 'content-type: application/json' -d '{"sub":"user-123","ttl_seconds":600}'
  then give the page the "token" as its API key (README: "Call the router from a browser").
`);

const stop = async (code: number) => {
  wrangler.kill("SIGTERM");
  await sim.close();
  process.exit(code);
};
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
wrangler.on("exit", (code) => void stop(code ?? 0));
