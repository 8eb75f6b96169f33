import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * Every fetch the Worker or a test makes leaves workerd through this Worker. Only the simulator and the
 * alert webhook receiver (each one host and port, started by test/global-setup.ts) are reachable; any
 * other request fails as a network error naming the host, so a test that would reach the internet, or
 * any other server, fails loudly.
 */
const OUTBOUND_GUARD = `
export default {
  fetch(request, env) {
    const { host } = new URL(request.url);
    if (env.ALLOWED_HOSTS.split(",").includes(host)) return fetch(request);
    throw new Error("Outbound request to " + host + " refused: the workers tests may only reach " + env.ALLOWED_HOSTS + ".");
  },
};`;

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            remoteBindings: false,
            miniflare: {
              outboundService: "outbound-guard",
              workers: [
                {
                  name: "outbound-guard",
                  modules: true,
                  script: OUTBOUND_GUARD,
                  compatibilityDate: "2026-11-01",
                  bindings: {
                    ALLOWED_HOSTS: [inject("simUrl"), inject("hookUrl")]
                      .map((url) => new URL(url).host)
                      .join(","),
                  },
                },
              ],
              bindings: {
                DEEPSEEK_BASE_URL: inject("simUrl"),
                DEEPSEEK_API_KEY: "sk-test-upstream-0000000000000000",
                ROUTER_TENANTS: inject("routerTenants"),
                // Metrics (issue 13): flush quickly so a test's waitUntil is not held 2 s; alerts go
                // to the loopback receiver started in global setup.
                METRICS_FLUSH_MS: "50",
                ALERT_WEBHOOK_URL: `${inject("hookUrl")}/hooks`,
                ALERT_RETRY_BASE_S: "1",
              },
              queueConsumers: {
                "deepseek-router-alerts": { maxBatchTimeout: 0.05 },
                "deepseek-router-batch-lines": { maxBatchTimeout: 0.05 },
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          globalSetup: ["test/global-setup.ts"],
          testTimeout: 20_000,
        },
      },
      {
        // Node tests that import Worker modules (the OpenAPI document) see a stand-in for the runtime's module.
        resolve: { alias: { "cloudflare:workers": "./test/node/support/cloudflare-workers.ts" } },
        test: {
          name: "node",
          environment: "node",
          include: ["test/node/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
    ],
  },
});
