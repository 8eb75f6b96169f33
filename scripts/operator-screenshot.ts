import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { findChromium, screenshot } from "../loadtest/screenshot";
import { ROOT } from "./build";
import { adminKeyDigest, LOCAL_ADMIN_KEY, LOCAL_TENANTS } from "./local-config";
import { startLocalStack } from "./stack";

/**
 * `npx tsx scripts/operator-screenshot.ts [dir]`: the operator and tenant dashboards in headless
 * Chromium, under load. Starts the local stack (simulator with a little 429/5xx noise, router with the local
 * admin key), drives it with the load-test kit (`npm run loadtest`: a spike from the first local
 * tenant, steady traffic from the second), and shoots /operator and /dashboard while the load runs. Output:
 * <dir>/operator-dashboard.png and <dir>/tenant-dashboard.png, dir defaulting to docs/img. Everything stays on loopback and is bounded in time.
 */
const dir = resolve(process.argv[2] ?? `${ROOT}docs/img`);
const LOAD_S = 45;
const SHOOT_AT_S = 34;

if (!findChromium()) {
  console.error("operator-screenshot: chromium is not installed (Debian: apt-get install -y chromium).");
  process.exit(3);
}
const stack = await startLocalStack({
  sim: { ttftMs: 250, tokensPerS: 120, faults: { statusRates: { "429": 0.03, "503": 0.02 } } },
  vars: { ROUTER_ADMIN_KEY: adminKeyDigest(), METRICS_FLUSH_MS: "1000" },
});
console.log(`Router at ${stack.routerUrl}; load for ${LOAD_S} s, screenshot at ${SHOOT_AT_S} s`);
const [first, second] = LOCAL_TENANTS;
const loads = [
  loadtest(["spike", "--key", first?.key ?? "", "--repeat-ratio", "0.3"]),
  loadtest(["constant", "--key", second?.key ?? "", "--rate", "2"]),
];
try {
  await new Promise((done) => setTimeout(done, SHOOT_AT_S * 1000));
  const shots = [
    [`/operator#key=${LOCAL_ADMIN_KEY}&range=5m`, "operator-dashboard.png"],
    [`/dashboard#key=${first?.key ?? ""}`, "tenant-dashboard.png"],
  ] as const;
  for (const [path, file] of shots) {
    await screenshot(`${stack.routerUrl}${path}`, `${dir}/${file}`, {
      width: 1500,
      height: 1250,
      virtualTimeMs: 5_000,
    });
    console.log(`wrote ${dir}/${file}`);
  }
  await Promise.all(loads);
} finally {
  await stack.close();
}

/** One bounded run of the load-test kit against the stack, its output summarised on exit. */
function loadtest(args: string[]): Promise<void> {
  const argv = ["run", "loadtest", "--", ...args, "--base-url", stack.routerUrl, "--duration", `${LOAD_S}s`];
  const child = spawn(
    "npm",
    [...argv, "--quiet", "--no-html", "--out", `${ROOT}loadtest/out/operator-${args[0]}`],
    {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let tail = "";
  child.stdout.on("data", (d: Buffer) => {
    tail = (tail + d.toString()).slice(-2_000);
  });
  return new Promise((done) =>
    child.on("close", (code) => {
      console.log(
        `loadtest ${args[0]} exited ${code}; last lines:\n${tail.trim().split("\n").slice(-6).join("\n")}`,
      );
      done();
    }),
  );
}
