import { textTable } from "../../loadtest/report/format";
import type { BenchSection } from "./types";

type Row = Record<string, string | number>;

function cell(row: Row, column: string): string {
  const v = row[column];
  if (v === undefined) return "";
  return typeof v === "number" ? formatNumber(v) : v;
}

/** Numbers in tables: integers as is, others with three significant decimals at most. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return "—";
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  return v.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3);
}

export function markdownTable(columns: readonly string[], rows: readonly Row[]): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
  const head = `| ${columns.map(esc).join(" | ")} |`;
  const rule = `| ${columns.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`;
  const body = rows.map((r) => `| ${columns.map((c) => esc(cell(r, c))).join(" | ")} |`);
  return [head, rule, ...body].join("\n");
}

export function terminalTable(columns: readonly string[], rows: readonly Row[]): string {
  return textTable(
    columns,
    rows.map((r) => columns.map((c) => cell(r, c))),
  );
}

function goalsOf(section: BenchSection): Row[] {
  return (section.goals ?? []).map((g) => ({
    goal: g.goal,
    measured: g.measured,
    met: g.met ? "yes" : "**no**",
  }));
}

/** A section as Markdown: notes as a list, the table, then the goals table. Title not included. */
export function sectionMarkdown(section: BenchSection): string {
  const parts: string[] = [];
  if (section.notes?.length) parts.push(section.notes.map((n) => `- ${n}`).join("\n"));
  parts.push(markdownTable(section.columns, section.rows));
  if (section.goals?.length) parts.push(markdownTable(["goal", "measured", "met"], goalsOf(section)));
  return parts.join("\n\n");
}

/** A section for the terminal. */
export function sectionTerminal(section: BenchSection): string {
  const parts = [`== ${section.title} ==`, terminalTable(section.columns, section.rows)];
  if (section.goals?.length) {
    const rows = goalsOf(section).map((g) => ({ ...g, met: String(g.met).replace(/\*/g, "") }));
    parts.push(terminalTable(["goal", "measured", "met"], rows));
  }
  if (section.notes?.length) parts.push(section.notes.map((n) => `  · ${n}`).join("\n"));
  return parts.join("\n\n");
}
