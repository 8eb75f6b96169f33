import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { spikeProfile } from "./arrivals";
import { resolveMix } from "./mix";
import { buildReport } from "./report/model";
import { renderSummary } from "./report/summary";
import { writeReports } from "./report/write";
import { runScenario } from "./runner";
import type { Scenario } from "./scenarios";
import { findChromium, screenshot } from "./screenshot";
import { startScriptedServer } from "./scripted-server";

/**
 * A self-contained demonstration: a spike against the scripted server (8 slots, a short queue, 429
 * past it, a cache), with every report written and, when Chromium is installed, a screenshot of the
 * HTML report. `npx tsx loadtest/demo.ts [outDir] [seconds]`.
 */
export async function runDemo(outDir: string, seconds: number): Promise<void> {
  const server = await startScriptedServer({
    slots: 8,
    queueLimit: 16,
    retryAfterS: 2,
    ttftMs: 120,
    tokens: 24,
    tokenGapMs: 12,
    keepAlives: 1,
    cache: true,
    truncateEvery: 97,
  });
  try {
    const scenario: Scenario = {
      name: "demo-spike",
      description: "Spike against the scripted server: 8 slots, 16 queued, then 429 + Retry-After.",
      load: {
        kind: "open",
        arrival: "poisson",
        profile: spikeProfile(10, 80, seconds * 0.35, seconds * 0.25),
      },
      durationS: seconds,
      maxRequests: 5000,
      maxInFlight: 200,
      timeoutS: 30,
      seed: 7,
      mix: resolveMix({ repeatRatio: 0.2, priorities: { high: 0.2, normal: 0.6, low: 0.2 } }),
    };
    const result = await runScenario({ baseUrl: server.url, key: "sk-demo", scenario });
    const report = buildReport(result);
    const files = await writeReports(outDir, report, { html: true });
    console.log(renderSummary(report));
    console.log(`wrote ${files.json} and ${files.html}`);
    if (findChromium() && files.html) {
      const png = resolve(outDir, "report.png");
      await screenshot(files.html, png);
      console.log(`wrote ${png}`);
    } else {
      console.log("chromium not installed: no screenshot");
    }
  } finally {
    await server.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const out = process.argv[2] ?? resolve(root, "loadtest/out/demo");
  const seconds = Number(process.argv[3] ?? 20);
  runDemo(out, seconds).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
