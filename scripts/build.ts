import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { V4WorkerOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ROUTER_BUNDLE_DIR = `${ROOT}dist/router`;

/** Bundles the router exactly as `wrangler deploy` would, without uploading anything. */
function buildRouter(): string {
  execFileSync("wrangler", ["deploy", "--dry-run", "--outdir", ROUTER_BUNDLE_DIR], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    // The bundle holds no secrets; these only quiet wrangler's check that required secrets exist.
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", ROUTER_TENANTS: "[]", DEEPSEEK_API_KEY: "unused" },
  });
  return `${ROUTER_BUNDLE_DIR}/index.js`;
}

/**
 * The router as a Miniflare worker, built and configured from wrangler.toml exactly as deployed;
 * `extra` adds or overrides options (bindings, sockets).
 */
export function routerWorker(extra: Partial<V4WorkerOptions> = {}): V4WorkerOptions {
  const scriptPath = buildRouter();
  // The bundle is already built, so wrangler's module rules (for unbundled sources) do not apply.
  const { modulesRules: _unbundledRules, ...workerOptions } = unstable_getMiniflareWorkerOptions(
    `${ROOT}wrangler.toml`,
  ).workerOptions;
  return {
    ...workerOptions,
    name: "router",
    modules: true,
    scriptPath,
    ...extra,
    bindings: { ...(workerOptions.bindings as Record<string, unknown> | undefined), ...extra.bindings },
  } as V4WorkerOptions;
}
