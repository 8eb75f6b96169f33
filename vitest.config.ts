import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Two projects: the Worker's suites run inside workerd; the simulator, load-test kit and
// bench helpers are Node programs and are tested in Node.
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.jsonc" },
            remoteBindings: false,
            miniflare: {
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
              queueConsumers: { "deepseek-router-alerts": { maxBatchTimeout: 0.05 } },
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
