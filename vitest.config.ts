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
            wrangler: { configPath: "./wrangler.toml" },
            remoteBindings: false,
            miniflare: {
              bindings: {
                DEEPSEEK_BASE_URL: inject("simUrl"),
                DEEPSEEK_API_KEY: "sk-test-upstream-0000000000000000",
                ROUTER_TENANTS: inject("routerTenants"),
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
