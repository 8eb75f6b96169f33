import { Histogram } from "../../loadtest/histogram";
import { formatNumber } from "./table";

export interface Distribution {
  n: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Percentile stats from the load-test histogram (relative error ≤ 0.1%). */
export function distribution(values: Iterable<number> | Histogram): Distribution {
  const h = values instanceof Histogram ? values : Histogram.of(values);
  return {
    n: h.count,
    min: h.min,
    mean: h.mean,
    p50: h.percentile(50),
    p90: h.percentile(90),
    p99: h.percentile(99),
    max: h.max,
  };
}

/** The middle value (the upper one of an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** value ÷ baseline; NaN when either is missing or the baseline is 0. */
export function ratio(value: number, baseline: number): number {
  if (!Number.isFinite(value) || !Number.isFinite(baseline) || baseline === 0) return Number.NaN;
  return value / baseline;
}

export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return "—";
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}

/** "12.3 ms (1.45×)": the absolute figure and its ratio to the baseline, as every table shows them. */
export function withRatio(
  value: number,
  baseline: number,
  format: (v: number) => string = formatNumber,
): string {
  return `${format(value)} (${formatRatio(ratio(value, baseline))})`;
}

export function formatMs(v: number): string {
  return Number.isFinite(v) ? `${formatNumber(v)} ms` : "—";
}

interface CompareMetric {
  label: string;
  /** Value per variant (column). */
  values: Record<string, number>;
  format?: (v: number) => string;
}

interface CompareOptions {
  /** Header of the first column, e.g. "metric". */
  metricColumn: string;
  /** Variant names in column order; `baseline` must be one of them. */
  variants: readonly string[];
  baseline: string;
  metrics: readonly CompareMetric[];
}

/**
 * A side-by-side table: one row per metric, one column per variant, each cell "absolute (ratio×)"
 * against the baseline variant (whose cells read 1.00×).
 */
export function compareRows(opts: CompareOptions): {
  columns: string[];
  rows: Array<Record<string, string>>;
} {
  if (!opts.variants.includes(opts.baseline))
    throw new Error(`compareRows: baseline ${opts.baseline} is not a variant`);
  const columns = [
    opts.metricColumn,
    ...opts.variants.map((v) => (v === opts.baseline ? `${v} (baseline)` : v)),
  ];
  const rows = opts.metrics.map((m) => {
    const base = m.values[opts.baseline] ?? Number.NaN;
    const row: Record<string, string> = { [opts.metricColumn]: m.label };
    opts.variants.forEach((v, i) => {
      const value = m.values[v];
      row[columns[i + 1]!] = value === undefined ? "—" : withRatio(value, base, m.format);
    });
    return row;
  });
  return { columns, rows };
}
