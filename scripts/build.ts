import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const ROUTER_BUNDLE_DIR = `${ROOT}dist/router`;

/** Bundles the router exactly as `wrangler deploy` would, without uploading anything. */
export function buildRouter(): string {
  execFileSync("wrangler", ["deploy", "--dry-run", "--outdir", ROUTER_BUNDLE_DIR], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    // The bundle holds no secrets; these only quiet wrangler's check that required secrets exist.
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", ROUTER_TENANTS: "[]", DEEPSEEK_API_KEY: "unused" },
  });
  return `${ROUTER_BUNDLE_DIR}/index.js`;
}
