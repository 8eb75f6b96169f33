import type { SectionResult } from "./report";
import type { BenchScenario } from "./types";

interface RunBenchOptions {
  scenarios: readonly BenchScenario[];
  /** Names to run; empty runs all. */
  names: readonly string[];
  quick: boolean;
  log(line: string): void;
  /** Called as each section completes, e.g. to print its table. */
  onResult?(result: SectionResult): void;
}

/** Runs the selected scenarios one after another; a failing scenario is reported, not fatal. */
export async function runBench(opts: RunBenchOptions): Promise<SectionResult[]> {
  const unknown = opts.names.filter((n) => !opts.scenarios.some((s) => s.name === n));
  if (unknown.length > 0) {
    const known = opts.scenarios.map((s) => s.name).join(", ") || "(none registered)";
    throw new Error(`unknown benchmark ${unknown.join(", ")}; available: ${known}`);
  }
  const selected = opts.names.length
    ? opts.scenarios.filter((s) => opts.names.includes(s.name))
    : opts.scenarios;
  const results: SectionResult[] = [];
  for (const scenario of selected) {
    opts.log(`▶ ${scenario.name}: ${scenario.title}`);
    const t0 = performance.now();
    const measuredAt = new Date();
    let result: SectionResult;
    try {
      const section = await scenario.run({ log: (l) => opts.log(`  ${l}`), quick: opts.quick });
      result = {
        name: scenario.name,
        title: scenario.title,
        section,
        seconds: (performance.now() - t0) / 1000,
        measuredAt,
      };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      result = {
        name: scenario.name,
        title: scenario.title,
        error,
        seconds: (performance.now() - t0) / 1000,
        measuredAt,
      };
    }
    results.push(result);
    opts.onResult?.(result);
  }
  return results;
}
