import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spikeProfile } from "../../../loadtest/arrivals";
import { resolveMix } from "../../../loadtest/mix";
import { renderHtml } from "../../../loadtest/report/html";
import { renderJson, reportSchemaProblems } from "../../../loadtest/report/json";
import { buildReport, type LoadReport, REPORT_SCHEMA } from "../../../loadtest/report/model";
import { renderSummary } from "../../../loadtest/report/summary";
import { niceTicks } from "../../../loadtest/report/svg";
import { writeReports } from "../../../loadtest/report/write";
import { runScenario } from "../../../loadtest/runner";
import { findChromium, screenshot } from "../../../loadtest/screenshot";
import { startScriptedServer } from "../../../loadtest/scripted-server";

let report: LoadReport;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "loadtest-report-"));
  const server = await startScriptedServer({
    slots: 3,
    queueLimit: 2,
    ttftMs: 30,
    tokens: 6,
    tokenGapMs: 4,
    cache: true,
  });
  try {
    const result = await runScenario({
      baseUrl: server.url,
      key: "sk-test",
      scenario: {
        name: "report-test",
        description: "a short spike for the report tests",
        load: { kind: "open", arrival: "poisson", profile: spikeProfile(15, 120, 1, 0.5) },
        durationS: 2,
        maxRequests: 400,
        maxInFlight: 50,
        timeoutS: 5,
        seed: 3,
        mix: resolveMix({ repeatRatio: 0.3, priorities: { high: 1, normal: 1 } }),
      },
    });
    report = buildReport(result);
  } finally {
    await server.close();
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("JSON report", () => {
  it("matches the documented schema after a round trip through JSON", () => {
    const parsed: unknown = JSON.parse(renderJson(report));
    expect(reportSchemaProblems(parsed)).toEqual([]);
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(report.totals.completed).toBe(report.totals.sent);
    expect(report.totals.shed).toBeGreaterThan(0);
    expect(report.series.length).toBeGreaterThanOrEqual(2);
    expect(Object.keys(report.classes).length).toBeGreaterThan(1);
    expect(report.overall.router.cache.HIT).toBeGreaterThan(0);
    expect(report.meta.mix.tenants).toEqual([{ name: "default", share: 1 }]);
  });

  it("flags a report that does not match", () => {
    const parsed = JSON.parse(renderJson(report)) as Record<string, unknown>;
    expect(reportSchemaProblems({ ...parsed, schema: "other" })).not.toEqual([]);
    expect(reportSchemaProblems({ ...parsed, series: [{ t: "x" }] }).length).toBeGreaterThan(0);
  });
});

describe("HTML report", () => {
  it("is one self-contained page with the four charts and the data", () => {
    const html = renderHtml(report);
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html.match(/<svg class="chart"/g)).toHaveLength(4);
    for (const title of ["Latency percentiles", "Throughput", "Concurrency", "Status mix"])
      expect(html).toContain(title);
    expect(html).toMatch(/<path class="series" data-series="total p99" d="M[\d.]+,[\d.]+L/);
    expect(html).toContain("<rect");
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|@import|url\(http/i);
    const embedded = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)?.[1];
    expect(JSON.parse(embedded!).meta.scenario).toBe("report-test");
    for (const cls of Object.keys(report.classes)) expect(html).toContain(`<td>${cls}</td>`);
  });

  it("escapes text from the scenario", () => {
    const evil = { ...report, meta: { ...report.meta, description: "<img src=x onerror=alert(1)>" } };
    const html = renderHtml(evil);
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("&#60;img");
  });

  it("renders in headless Chromium when it is installed", async (ctx) => {
    const files = await writeReports(dir, report, { html: true });
    expect((await readFile(files.summary, "utf8")).length).toBeGreaterThan(0);
    if (!findChromium()) ctx.skip();
    const png = join(dir, "report.png");
    await screenshot(files.html!, png, { width: 1200, height: 1400, timeoutMs: 20_000 });
    expect((await stat(png)).size).toBeGreaterThan(20_000);
  }, 30_000);
});

describe("summary", () => {
  it("has one row per class plus the total, and the status mix", () => {
    const text = renderSummary(report);
    for (const cls of Object.keys(report.classes))
      expect(text).toMatch(new RegExp(`^${cls.replace("/", "\\/")}\\s`, "m"));
    expect(text).toMatch(/^all\s/m);
    expect(text).toContain("Status mix: 200:");
    expect(text).toContain("429:");
    expect(text).toMatch(/^priority\s/m);
  });

  it("axis ticks cover the data", () => {
    expect(niceTicks(0, 24, 5, true)).toEqual([0, 5, 10, 15, 20, 25]);
    expect(niceTicks(0, 1190, 5, true).at(-1)).toBeGreaterThanOrEqual(1190);
    expect(niceTicks(0, 20, 5, true).at(-1)).toBe(20);
  });
});
