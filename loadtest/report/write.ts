import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderHtml } from "./html";
import { renderJson } from "./json";
import type { LoadReport } from "./model";
import { renderSummary } from "./summary";

interface WrittenReports {
  json: string;
  summary: string;
  html?: string;
}

/** Writes report.json, summary.txt and (unless disabled) report.html into `dir`. */
export async function writeReports(
  dir: string,
  report: LoadReport,
  options: { html: boolean },
): Promise<WrittenReports> {
  await mkdir(dir, { recursive: true });
  const out: WrittenReports = { json: join(dir, "report.json"), summary: join(dir, "summary.txt") };
  await writeFile(out.json, renderJson(report));
  await writeFile(out.summary, renderSummary(report));
  if (options.html) {
    out.html = join(dir, "report.html");
    await writeFile(out.html, renderHtml(report));
  }
  return out;
}

/** loadtest/out/2026-11-24T08-40-12Z-spike: sortable, and safe in every file system. */
export function defaultOutDir(root: string, scenario: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replace(/:/g, "-");
  return join(root, "loadtest", "out", `${stamp}-${scenario.replace(/[^\w.-]+/g, "_")}`);
}
