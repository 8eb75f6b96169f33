import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { runBench } from "./harness";
import { machineInfo } from "./machine";
import { renderBenchmarksMd } from "./report";
import { sectionTerminal } from "./table";
import type { BenchScenario } from "./types";

const BENCH_USAGE = `Usage: npm run bench -- [name ...] [--quick] [--out <file>] [--list]

Runs every benchmark in bench/scenarios/index.ts (or only the named ones), prints each table as it
completes and writes BENCHMARKS.md at the repository root. A filtered run replaces only its own
sections. --quick is a short smoke run written to bench/out/BENCHMARKS.quick.md unless --out is given.`;

interface BenchArgs {
  names: string[];
  quick: boolean;
  out?: string;
  list: boolean;
  help: boolean;
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const a: BenchArgs = { names: [], quick: false, list: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--quick") a.quick = true;
    else if (arg === "--list") a.list = true;
    else if (arg === "-h" || arg === "--help") a.help = true;
    else if (arg === "--out") {
      a.out = argv[++i];
      if (!a.out) throw new Error("--out needs a file");
    } else if (arg.startsWith("-")) throw new Error(`unknown option ${arg}`);
    else a.names.push(arg);
  }
  return a;
}

interface BenchCliOptions {
  /** Repository root: where BENCHMARKS.md goes. */
  root: string;
  print(line: string): void;
}

/** `npm run bench`: runs, prints each section as it completes, writes the Markdown. Returns the exit code. */
export async function runBenchCli(
  argv: readonly string[],
  scenarios: readonly BenchScenario[],
  opts: BenchCliOptions,
): Promise<number> {
  const args = parseBenchArgs(argv);
  if (args.help) {
    opts.print(BENCH_USAGE);
    return 0;
  }
  if (args.list || scenarios.length === 0) {
    if (scenarios.length === 0)
      opts.print("No benchmark scenarios are registered yet (bench/scenarios/index.ts).");
    for (const s of scenarios) opts.print(`${s.name.padEnd(16)} ${s.title}`);
    return 0;
  }
  const date = new Date();
  const results = await runBench({
    scenarios,
    names: args.names,
    quick: args.quick,
    log: opts.print,
    onResult: (r) =>
      opts.print(r.section ? `\n${sectionTerminal(r.section)}\n` : `\n== ${r.title} == FAILED: ${r.error}\n`),
  });
  const fallback = args.quick ? "bench/out/BENCHMARKS.quick.md" : "BENCHMARKS.md";
  const out = resolve(opts.root, args.out ?? fallback);
  const existing = existsSync(out) ? await readFile(out, "utf8") : undefined;
  const command = `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}`;
  const markdown = renderBenchmarksMd(
    {
      results,
      machine: machineInfo(),
      date,
      command,
      quick: args.quick,
      order: scenarios.map((s) => s.name),
    },
    existing,
  );
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, markdown);
  opts.print(`Wrote ${out}`);
  return results.some((r) => r.error) ? 1 : 0;
}
