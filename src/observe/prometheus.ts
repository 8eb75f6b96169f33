import { type Labels, METRIC, type MetricId, type MetricSpec } from "./catalog";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface Sample {
  metric: MetricId;
  labels: Labels;
  value: number;
}

export interface HistogramSample {
  metric: MetricId;
  labels: Labels;
  /** Per bucket, not cumulative, +Inf last. */
  counts: readonly number[];
  sum: number;
}

/**
 * The Prometheus text exposition format (0.0.4): one HELP and TYPE per family, each family's lines
 * together, histogram buckets cumulative with `+Inf` equal to `_count`, and a final newline.
 */
export function renderPrometheus(samples: readonly Sample[], histograms: readonly HistogramSample[]): string {
  const lines: string[] = [];
  for (const [id, spec] of Object.entries(METRIC) as Array<[MetricId, MetricSpec]>) {
    const family = samples.filter((s) => s.metric === id);
    const histos = histograms.filter((h) => h.metric === id);
    if (family.length === 0 && histos.length === 0 && spec.type !== "counter") continue;
    lines.push(`# HELP ${spec.name} ${escapeHelp(spec.help)}`, `# TYPE ${spec.name} ${spec.type}`);
    for (const s of sortByLabels(family)) lines.push(`${spec.name}${labelSet(s.labels)} ${number(s.value)}`);
    for (const h of sortByLabels(histos)) lines.push(...histogramLines(spec, h));
  }
  return `${lines.join("\n")}\n`;
}

function histogramLines(spec: MetricSpec, h: HistogramSample): string[] {
  const bounds = spec.buckets ?? [];
  const lines: string[] = [];
  let cumulative = 0;
  bounds.forEach((bound, i) => {
    cumulative += h.counts[i] ?? 0;
    lines.push(`${spec.name}_bucket${labelSet(h.labels, ["le", String(bound)])} ${cumulative}`);
  });
  cumulative += h.counts[bounds.length] ?? 0;
  lines.push(`${spec.name}_bucket${labelSet(h.labels, ["le", "+Inf"])} ${cumulative}`);
  lines.push(`${spec.name}_sum${labelSet(h.labels)} ${number(h.sum)}`);
  lines.push(`${spec.name}_count${labelSet(h.labels)} ${cumulative}`);
  return lines;
}

function labelSet(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) pairs.push(`${extra[0]}="${extra[1]}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

function sortByLabels<T extends { labels: Labels }>(items: T[]): T[] {
  return items
    .map((item) => ({ item, key: JSON.stringify(Object.entries(item.labels)) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ item }) => item);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  // Money accumulates float noise; twelve significant digits keep the figure exact to the cent and below.
  return String(Number(value.toPrecision(12)));
}
