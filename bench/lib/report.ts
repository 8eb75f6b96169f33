import { describeMachine, type MachineInfo } from "./machine";
import { sectionMarkdown } from "./table";
import type { BenchSection } from "./types";

/** One scenario's result in a run. */
export interface SectionResult {
  name: string;
  title: string;
  section?: BenchSection;
  /** Set when the scenario threw; the file then says so instead of showing stale numbers. */
  error?: string;
  seconds: number;
  measuredAt: Date;
}

interface BenchRun {
  results: SectionResult[];
  machine: MachineInfo;
  date: Date;
  /** The exact command line that reproduces this run. */
  command: string;
  quick: boolean;
  /** Scenario names in registry order: the order of sections in the file. */
  order: readonly string[];
}

const START = (name: string) => `<!-- bench:${name} -->`;
const END = (name: string) => `<!-- /bench:${name} -->`;

/** Sections of an existing BENCHMARKS.md, by scenario name, markers included. */
export function extractSections(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /<!-- bench:([\w.-]+) -->[\s\S]*?<!-- \/bench:\1 -->/g;
  for (const m of markdown.matchAll(re)) out.set(m[1]!, m[0]);
  return out;
}

function renderSection(r: SectionResult, machine: MachineInfo, quick: boolean): string {
  const when = `_Measured ${isoMinute(r.measuredAt)} in ${r.seconds.toFixed(1)} s on ${machine.cpu} (${machine.cores} cores), Node ${machine.node}${quick ? ", **quick mode**" : ""}. Reproduce: \`npm run bench -- ${r.name}\`._`;
  const body = r.section
    ? sectionMarkdown(r.section)
    : `**Failed:** \`${(r.error ?? "unknown error").replace(/`/g, "'")}\``;
  return [START(r.name), `## ${r.section?.title ?? r.title}`, "", when, "", body, END(r.name)].join("\n");
}

/**
 * The whole BENCHMARKS.md. Sections this run did not measure are carried over from `existing`
 * unchanged (with their own dates), so a filtered run updates only what it ran.
 */
export function renderBenchmarksMd(run: BenchRun, existing?: string): string {
  const kept = existing ? extractSections(existing) : new Map<string, string>();
  const fresh = new Map(run.results.map((r) => [r.name, renderSection(r, run.machine, run.quick)]));
  const names = [...run.order, ...[...kept.keys()].filter((k) => !run.order.includes(k))];
  const sections = names.flatMap((n) => {
    const s = fresh.get(n) ?? kept.get(n);
    return s ? [s] : [];
  });
  const titles = sections.map((s) => /^## (.+)$/m.exec(s)?.[1] ?? "");
  const header = [
    "# Benchmarks",
    "",
    "Written by `npm run bench` (`bench/run.ts`); do not edit by hand. Every figure is given as an absolute",
    "value and as a ratio (×) against the baseline column of its table, all measured side by side in the same run.",
    "",
    `- **Command:** \`${run.command}\``,
    `- **Date:** ${isoMinute(run.date)}`,
    `- **Machine:** ${describeMachine(run.machine)}`,
    `- **Mode:** ${run.quick ? "quick (smoke run; figures are indicative only)" : "full"}`,
    "",
    "Sections not re-run by the command above keep the date and machine noted under their title.",
    "",
    ...titles.map((t) => `- [${t}](#${anchor(t)})`),
  ];
  return `${[header.join("\n"), ...sections].join("\n\n")}\n`;
}

function isoMinute(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** GitHub's heading anchor. */
export function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, "")
    .trim()
    .replace(/\s/g, "-");
}
