import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The request path reads top-down: each part of src/ may import only from its own part or from parts
 * below it in this list, so there is no way back up and no cycle between parts (docs/ARCHITECTURE.md).
 * Leaf modules at the bottom hold the types and helpers everything shares.
 */
const LAYERS = [
  "index",
  "app",
  "routes",
  "owner",
  "batch",
  "middleware",
  "proxy",
  "frontend",
  "tenancy",
  "cache",
  "observe",
  "ledger",
  "admission",
  "upstream",
  "routing",
  "classify",
  "env",
  "surfaces",
  "config",
  "schema",
  "trace",
  "answer",
  "usage",
  "bytes",
  "headers",
  "timing",
  "errors",
  "zod",
] as const;

const SRC = join(dirname(fileURLToPath(import.meta.url)), "../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** `src/cache/key.ts` → `cache`; `src/errors.ts` → `errors`. */
function partOf(file: string): string {
  const [first = ""] = relative(SRC, file).split("/");
  return first.replace(/\.ts$/, "");
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^(?:import|export)\b[^;]*?\sfrom\s+"(\.[^"]+)"/gm)].map((match) => {
    const target = normalize(join(dirname(file), match[1] ?? ""));
    return target.endsWith(".ts") ? target : `${target}.ts`;
  });
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((file) => [file, importsOf(file)]));

describe("import layering of src/", () => {
  it("names every part of src/ in the layer list", () => {
    const parts = new Set(files.map(partOf));
    expect([...parts].filter((part) => !LAYERS.includes(part as (typeof LAYERS)[number]))).toEqual([]);
  });

  it("has no upward import", () => {
    const rank = (part: string) => LAYERS.indexOf(part as (typeof LAYERS)[number]);
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        if (rank(partOf(target)) < rank(partOf(file)))
          upward.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("has no import cycle between files", () => {
    const state = new Map<string, "visiting" | "done">();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "visiting") {
        cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(" → "));
        return;
      }
      state.set(file, "visiting");
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, "done");
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
