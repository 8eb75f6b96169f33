/** One benchmark: a named measurement that produces one section of BENCHMARKS.md. */
export interface BenchScenario {
  /** Short id used to filter on the command line: `npm run bench -- <name>`. */
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<BenchSection>;
}

export interface BenchContext {
  /** Progress output; shown as the run goes, not written to BENCHMARKS.md. */
  log(line: string): void;
  /** `--quick`: a short smoke run; figures are indicative only. */
  quick: boolean;
}

/**
 * A section of results. Every figure should appear as an absolute value and as a ratio against the
 * baseline column (see `compareRows` in ./stats).
 */
export interface BenchSection {
  title: string;
  notes?: string[];
  columns: string[];
  rows: Array<Record<string, string | number>>;
  goals?: Array<{ goal: string; measured: string; met: boolean }>;
}
