import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseBenchArgs, runBenchCli } from "../../../bench/lib/cli";
import { measureRequests } from "../../../bench/lib/measure";
import { compareRows, formatMs } from "../../../bench/lib/stats";
import type { BenchScenario } from "../../../bench/lib/types";
import { type ScriptedServer, startScriptedServer } from "../../../loadtest/scripted-server";

let fast: ScriptedServer;
let slow: ScriptedServer;
let root: string;

beforeAll(async () => {
  fast = await startScriptedServer({ ttftMs: 5, tokens: 3, tokenGapMs: 1 });
  slow = await startScriptedServer({ ttftMs: 25, tokens: 3, tokenGapMs: 1 });
  root = await mkdtemp(join(tmpdir(), "bench-cli-"));
});
afterAll(async () => {
  await Promise.all([fast.close(), slow.close()]);
  await rm(root, { recursive: true, force: true });
});

/** A real benchmark in miniature: two targets measured side by side, absolute and ratio. */
const sideBySide: BenchScenario = {
  name: "ttft",
  title: "TTFT, fast vs slow target",
  async run(ctx) {
    const body = { model: "x", stream: true, messages: [{ role: "user", content: "hi" }] };
    const n = ctx.quick ? 10 : 20;
    const a = await measureRequests({ baseUrl: fast.url, body, n, concurrency: 2, warmup: 2 });
    const b = await measureRequests({ baseUrl: slow.url, body, n, concurrency: 2, warmup: 2 });
    const table = compareRows({
      metricColumn: "metric",
      variants: ["fast", "slow"],
      baseline: "fast",
      metrics: [
        { label: "TTFT p50", values: { fast: a.ttftMs.p50, slow: b.ttftMs.p50 }, format: formatMs },
        { label: "total p99", values: { fast: a.latencyMs.p99, slow: b.latencyMs.p99 }, format: formatMs },
      ],
    });
    return {
      title: this.title,
      ...table,
      goals: [{ goal: "slow is slower", measured: formatMs(b.ttftMs.p50), met: b.ttftMs.p50 > a.ttftMs.p50 }],
    };
  },
};

describe("npm run bench", () => {
  it("prints each section, writes BENCHMARKS.md with machine, date and command", async () => {
    const lines: string[] = [];
    const code = await runBenchCli(["ttft", "--out", "B.md"], [sideBySide], {
      root,
      print: (l) => lines.push(l),
    });
    expect(code).toBe(0);
    const out = lines.join("\n");
    expect(out).toContain("== TTFT, fast vs slow target ==");
    expect(out).toMatch(/TTFT p50\s+[\d.]+ ms \(1\.00×\)\s+[\d.]+ ms \([\d.]+×\)/);
    const md = await readFile(join(root, "B.md"), "utf8");
    expect(md).toContain("- **Command:** `npm run bench -- ttft --out B.md`");
    expect(md).toMatch(/- \*\*Machine:\*\* .+ cores, .+ GiB RAM; Node v\d+/);
    expect(md).toMatch(/- \*\*Date:\*\* \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(md).toContain("| metric | fast (baseline) | slow |");
    expect(md).toContain("| slow is slower |");
  });

  it("says so when nothing is registered and rejects unknown options", async () => {
    const lines: string[] = [];
    expect(await runBenchCli([], [], { root, print: (l) => lines.push(l) })).toBe(0);
    expect(lines[0]).toMatch(/No benchmark scenarios/);
    expect(() => parseBenchArgs(["--frob"])).toThrow(/unknown option/);
    expect(parseBenchArgs(["a", "--quick", "b"])).toMatchObject({ names: ["a", "b"], quick: true });
  });
});
