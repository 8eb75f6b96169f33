/** Inline SVG charts for the HTML report: no script, no external resource, readable when printed. */

export interface LineSeries {
  name: string;
  color: string;
  /** [x, y]; a null y breaks the line. */
  points: ReadonlyArray<readonly [number, number | null]>;
  dashed?: boolean;
}

interface StackSeries {
  name: string;
  color: string;
  values: readonly number[];
}

interface ChartOptions {
  title: string;
  yLabel: string;
  xLabel?: string;
  width?: number;
  height?: number;
  yFormat?: (v: number) => string;
}

const PAD = { left: 64, right: 16, top: 44, bottom: 40 };

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Round tick values (steps of 1, 2 or 5 × 10^k) inside [lo, hi]; with `cover`, the last tick is the
 * first round value at or above hi, so an axis scaled to it holds every point.
 */
export function niceTicks(lo: number, hi: number, target = 5, cover = false): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const end = cover ? Math.ceil(hi / step - 1e-9) * step : hi;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= end + step * 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}

export function lineChart(series: readonly LineSeries[], opts: ChartOptions): string {
  const ys = series
    .flatMap((s) => s.points.map((p) => p[1]))
    .filter((y): y is number => y !== null && Number.isFinite(y));
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const frame = makeFrame(opts, xs, ys);
  const paths = series.map((s) => {
    let d = "";
    let pen = false;
    for (const [x, y] of s.points) {
      if (y === null || !Number.isFinite(y)) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${frame.x(x).toFixed(1)},${frame.y(y).toFixed(1)}`;
      pen = true;
    }
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : "";
    const dots = s.points.length <= 2 ? dotsFor(s, frame) : "";
    return `<path class="series" data-series="${escapeXml(s.name)}" d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"${dash}/>${dots}`;
  });
  return wrap(opts, frame, paths.join(""), legend(series));
}

export function stackedBarChart(
  xs: readonly number[],
  stacks: readonly StackSeries[],
  opts: ChartOptions,
): string {
  const totals = xs.map((_, i) => stacks.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const frame = makeFrame(opts, xs.length > 0 ? [xs[0]!, xs[xs.length - 1]! + 1] : [], [0, ...totals]);
  const barW = Math.max(1, frame.innerW / Math.max(1, xs.length) - 1);
  const bars: string[] = [];
  xs.forEach((x, i) => {
    let acc = 0;
    for (const s of stacks) {
      const v = s.values[i] ?? 0;
      if (v <= 0) continue;
      const y0 = frame.y(acc);
      const y1 = frame.y(acc + v);
      bars.push(
        `<rect x="${frame.x(x).toFixed(1)}" y="${y1.toFixed(1)}" width="${barW.toFixed(1)}" height="${(y0 - y1).toFixed(1)}" fill="${s.color}"><title>${escapeXml(`t=${x}s ${s.name}: ${v}`)}</title></rect>`,
      );
      acc += v;
    }
  });
  return wrap(opts, frame, bars.join(""), legend(stacks));
}

interface Frame {
  width: number;
  height: number;
  innerW: number;
  innerH: number;
  x(v: number): number;
  y(v: number): number;
  xTicks: number[];
  yTicks: number[];
}

function makeFrame(opts: ChartOptions, xs: readonly number[], ys: readonly number[]): Frame {
  const width = opts.width ?? 640;
  const height = opts.height ?? 260;
  const innerW = width - PAD.left - PAD.right;
  const innerH = height - PAD.top - PAD.bottom;
  const xLo = xs.length ? Math.min(...xs) : 0;
  const xHi = xs.length ? Math.max(...xs, xLo + 1) : 1;
  const yTicks = niceTicks(0, Math.max(...ys, 0) || 1, 5, true);
  const yHi = Math.max(yTicks[yTicks.length - 1] ?? 1, 1e-9);
  return {
    width,
    height,
    innerW,
    innerH,
    x: (v) => PAD.left + ((v - xLo) / (xHi - xLo)) * innerW,
    y: (v) => PAD.top + innerH - (v / yHi) * innerH,
    xTicks: niceTicks(xLo, xHi, 8),
    yTicks,
  };
}

function wrap(opts: ChartOptions, f: Frame, body: string, legendSvg: string): string {
  const fmt = opts.yFormat ?? ((v: number) => String(v));
  const grid = f.yTicks
    .map((t) => {
      const y = f.y(t).toFixed(1);
      return `<line x1="${PAD.left}" x2="${f.width - PAD.right}" y1="${y}" y2="${y}" stroke="#e3e6ea"/><text x="${PAD.left - 6}" y="${y}" dy="0.32em" text-anchor="end">${escapeXml(fmt(t))}</text>`;
    })
    .join("");
  const xAxis = f.xTicks
    .map((t) => {
      const x = f.x(t).toFixed(1);
      return `<line x1="${x}" x2="${x}" y1="${PAD.top + f.innerH}" y2="${PAD.top + f.innerH + 4}" stroke="#888"/><text x="${x}" y="${PAD.top + f.innerH + 16}" text-anchor="middle">${escapeXml(String(t))}</text>`;
    })
    .join("");
  const bottom = PAD.top + f.innerH;
  return [
    `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.width} ${f.height}" role="img" aria-label="${escapeXml(opts.title)}" font-family="system-ui, sans-serif" font-size="11" fill="#333">`,
    `<text x="${PAD.left}" y="16" font-size="13" font-weight="600">${escapeXml(opts.title)}</text>`,
    grid,
    `<line x1="${PAD.left}" x2="${f.width - PAD.right}" y1="${bottom}" y2="${bottom}" stroke="#888"/>`,
    xAxis,
    `<text x="${PAD.left + f.innerW / 2}" y="${f.height - 6}" text-anchor="middle">${escapeXml(opts.xLabel ?? "seconds since start")}</text>`,
    `<text transform="translate(14 ${PAD.top + f.innerH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`,
    body,
    legendSvg,
    "</svg>",
  ].join("");
}

function legend(items: ReadonlyArray<{ name: string; color: string; dashed?: boolean }>): string {
  let x = PAD.left;
  return items
    .map((s) => {
      const dash = s.dashed ? ' stroke-dasharray="5 3"' : "";
      const out = `<line x1="${x}" x2="${x + 16}" y1="31" y2="31" stroke="${s.color}" stroke-width="3"${dash}/><text x="${x + 20}" y="31" dy="0.32em">${escapeXml(s.name)}</text>`;
      x += 28 + s.name.length * 6.2;
      return out;
    })
    .join("");
}

function dotsFor(s: LineSeries, f: Frame): string {
  return s.points
    .filter((p): p is readonly [number, number] => p[1] !== null && Number.isFinite(p[1]))
    .map(
      ([x, y]) => `<circle cx="${f.x(x).toFixed(1)}" cy="${f.y(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`,
    )
    .join("");
}
