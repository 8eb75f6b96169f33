import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBench } from "../../../bench/lib/harness";
import { describeMachine, machineInfo } from "../../../bench/lib/machine";
import { measureRequests } from "../../../bench/lib/measure";
import { anchor, extractSections, renderBenchmarksMd, type SectionResult } from "../../../bench/lib/report";
import { compareRows, distribution, formatMs, formatRatio, ratio, withRatio } from "../../../bench/lib/stats";
import { markdownTable, sectionMarkdown, terminalTable } from "../../../bench/lib/table";
import type { BenchScenario } from "../../../bench/lib/types";
import { type ScriptedServer, startScriptedServer } from "../../../loadtest/scripted-server";

describe("tables and ratios", () => {
  it("formats every figure as absolute and as a ratio to the baseline column", () => {
    const { columns, rows } = compareRows({
      metricColumn: "metric",
      variants: ["direct", "router"],
      baseline: "direct",
      metrics: [
        { label: "p50 latency", values: { direct: 2, router: 3 }, format: formatMs },
        { label: "req/s", values: { direct: 1000, router: 800 } },
      ],
    });
    expect(columns).toEqual(["metric", "direct (baseline)", "router"]);
    expect(rows[0]).toEqual({
      metric: "p50 latency",
      "direct (baseline)": "2 ms (1.00×)",
      router: "3 ms (1.50×)",
    });
    expect(rows[1]!.router).toBe("800 (0.80×)");
    expect(() => compareRows({ metricColumn: "m", variants: ["a"], baseline: "b", metrics: [] })).toThrow();
    expect(formatRatio(ratio(1, 0))).toBe("—");
    expect(withRatio(25, 2)).toBe("25 (12.5×)");
  });

  it("renders markdown and terminal tables", () => {
    const md = markdownTable(["a", "b"], [{ a: "x|y", b: 1.23456 }, { a: "z" }]);
    expect(md.split("\n")).toEqual(["| a | b |", "| --- | ---: |", "| x\\|y | 1.23 |", "| z |  |"]);
    const term = terminalTable(["name", "value"], [{ name: "long name", value: 3 }]);
    expect(term.split("\n")[2]).toBe("long name      3");
    const section = sectionMarkdown({
      title: "t",
      notes: ["a note"],
      columns: ["a"],
      rows: [{ a: 1 }],
      goals: [{ goal: "fast", measured: "1 ms", met: false }],
    });
    expect(section).toContain("- a note");
    expect(section).toContain("| fast | 1 ms | **no** |");
  });

  it("computes distributions with the load-test histogram", () => {
    const d = distribution(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(d.n).toBe(1000);
    expect(d.p50).toBeCloseTo(500, -1);
    expect(d.p99).toBeCloseTo(990, -1);
    expect(d.max).toBe(1000);
  });
});

describe("measureRequests", () => {
  let server: ScriptedServer;
  beforeAll(async () => {
    server = await startScriptedServer({ ttftMs: 15, tokens: 3, tokenGapMs: 2 });
  });
  afterAll(() => server.close());

  it("fires n requests at fixed concurrency after a warm-up and returns distributions", async () => {
    const m = await measureRequests({
      baseUrl: server.url,
      body: (i) => ({ model: "x", stream: true, messages: [{ role: "user", content: `q${i}` }] }),
      n: 30,
      concurrency: 4,
      warmup: 5,
    });
    expect(server.received).toBe(35);
    expect(m.n).toBe(30);
    expect(m.ok).toBe(30);
    expect(m.latencyMs.n).toBe(30);
    expect(m.ttftMs.p50).toBeGreaterThanOrEqual(15);
    expect(m.ttfbMs.p50).toBeLessThan(m.ttftMs.p50);
    expect(m.overheadMs.p50).toBeCloseTo(0.5, 2);
    expect(m.rps).toBeGreaterThan(0);
  });
});

describe("harness and BENCHMARKS.md", () => {
  const ok: BenchScenario = {
    name: "relay",
    title: "Relay overhead",
    run: async (ctx) => {
      ctx.log(`quick=${ctx.quick}`);
      return {
        title: "Relay overhead",
        columns: ["metric", "direct"],
        rows: [{ metric: "p50", direct: "1 ms (1.00×)" }],
      };
    },
  };
  const broken: BenchScenario = {
    name: "cache",
    title: "Cache",
    run: async () => {
      throw new Error("boom");
    },
  };

  it("runs the selected scenarios in order, reports failures and rejects unknown names", async () => {
    const logs: string[] = [];
    const seen: string[] = [];
    const results = await runBench({
      scenarios: [ok, broken],
      names: [],
      quick: true,
      log: (l) => logs.push(l),
      onResult: (r) => seen.push(r.name),
    });
    expect(seen).toEqual(["relay", "cache"]);
    expect(results[1]!.error).toBe("boom");
    expect(logs).toContain("  quick=true");
    const only = await runBench({ scenarios: [ok, broken], names: ["cache"], quick: false, log: () => {} });
    expect(only.map((r) => r.name)).toEqual(["cache"]);
    await expect(runBench({ scenarios: [ok], names: ["nope"], quick: false, log: () => {} })).rejects.toThrow(
      /available: relay/,
    );
  });

  it("writes the table, machine, date and command, and a filtered run keeps other sections", async () => {
    const machine = machineInfo();
    const at = new Date("2026-11-24T10:00:00Z");
    const result = (name: string, rows: string): SectionResult => ({
      name,
      title: name.toUpperCase(),
      section: { title: name.toUpperCase(), columns: ["m"], rows: [{ m: rows }] },
      seconds: 1.5,
      measuredAt: at,
    });
    const full = renderBenchmarksMd({
      results: [result("relay", "first"), result("cache", "first")],
      machine,
      date: at,
      command: "npm run bench",
      quick: false,
      order: ["relay", "cache"],
    });
    expect(full).toContain("- **Command:** `npm run bench`");
    expect(full).toContain("- **Date:** 2026-11-24 10:00 UTC");
    expect(full).toContain(`- **Machine:** ${describeMachine(machine)}`);
    expect(full).toContain("Reproduce: `npm run bench -- relay`");
    expect(full).toContain("[RELAY](#relay)");
    const again = renderBenchmarksMd(
      {
        results: [result("cache", "second")],
        machine,
        date: at,
        command: "npm run bench -- cache",
        quick: false,
        order: ["relay", "cache"],
      },
      full,
    );
    const sections = extractSections(again);
    expect([...sections.keys()]).toEqual(["relay", "cache"]);
    expect(sections.get("relay")).toContain("| first |");
    expect(sections.get("cache")).toContain("| second |");
    expect(again.indexOf("bench:relay")).toBeLessThan(again.indexOf("bench:cache"));
    expect(anchor("Relay overhead (p50, ms)")).toBe("relay-overhead-p50-ms");
  });
});
