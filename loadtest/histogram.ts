interface HistogramOptions {
  /** Smallest distinguishable step, in the recorded unit (default 0.001: microseconds when recording ms). */
  unit?: number;
  /** log2 of the linear sub-buckets per power of two (default 8: relative error ≤ 1/512). */
  subBucketBits?: number;
}

export interface HistogramSummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/** The serialised form: enough to rebuild and merge a histogram elsewhere. */
interface HistogramJson {
  unit: number;
  subBucketBits: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Sparse [bucket index, count] pairs, ascending. */
  buckets: Array<[number, number]>;
}

/**
 * An HDR-style histogram: values are counted in log-spaced buckets, each power of two split into
 * 2^subBucketBits linear sub-buckets. Below 2^subBucketBits units every unit has its own bucket.
 * Invariant: a reported percentile lies within `relativeError` of the exact nearest-rank percentile,
 * or within one `unit` for values below 2^subBucketBits units. min, max, count and mean are exact.
 */
export class Histogram {
  readonly unit: number;
  readonly subBucketBits: number;
  private readonly subBuckets: number;
  private readonly counts = new Map<number, number>();
  private sortedKeys: number[] | undefined;
  private total = 0;
  private sum = 0;
  private lo = Number.POSITIVE_INFINITY;
  private hi = Number.NEGATIVE_INFINITY;

  constructor(options: HistogramOptions = {}) {
    this.unit = options.unit ?? 0.001;
    this.subBucketBits = options.subBucketBits ?? 8;
    this.subBuckets = 2 ** this.subBucketBits;
  }

  /** Half the widest bucket's relative width: the bound on a percentile's relative error. */
  get relativeError(): number {
    return 1 / (2 * this.subBuckets);
  }

  get count(): number {
    return this.total;
  }

  get min(): number {
    return this.total === 0 ? Number.NaN : this.lo;
  }

  get max(): number {
    return this.total === 0 ? Number.NaN : this.hi;
  }

  get mean(): number {
    return this.total === 0 ? Number.NaN : this.sum / this.total;
  }

  /** Records a value `times` times. Negative and non-finite values are ignored. */
  record(value: number, times = 1): void {
    if (!Number.isFinite(value) || value < 0 || times <= 0) return;
    const index = this.indexOf(value);
    this.counts.set(index, (this.counts.get(index) ?? 0) + times);
    this.sortedKeys = undefined;
    this.total += times;
    this.sum += value * times;
    if (value < this.lo) this.lo = value;
    if (value > this.hi) this.hi = value;
  }

  /** Adds another histogram's counts; both must share unit and sub-bucket bits. */
  merge(other: Histogram): void {
    if (other.unit !== this.unit || other.subBucketBits !== this.subBucketBits) {
      throw new Error("Histogram.merge: incompatible bucket layout");
    }
    for (const [index, n] of other.counts) this.counts.set(index, (this.counts.get(index) ?? 0) + n);
    this.sortedKeys = undefined;
    this.total += other.total;
    this.sum += other.sum;
    this.lo = Math.min(this.lo, other.lo);
    this.hi = Math.max(this.hi, other.hi);
  }

  /** Nearest-rank percentile (q in 0..100): the value at rank ceil(q/100 · count). NaN when empty. */
  percentile(q: number): number {
    if (this.total === 0) return Number.NaN;
    if (q <= 0) return this.lo;
    if (q >= 100) return this.hi;
    const rank = Math.max(1, Math.ceil((q / 100) * this.total));
    let seen = 0;
    for (const index of this.keys()) {
      seen += this.counts.get(index) ?? 0;
      if (seen >= rank) return this.clamp(this.representative(index));
    }
    return this.hi;
  }

  summary(): HistogramSummary {
    return {
      count: this.total,
      min: this.min,
      mean: this.mean,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p95: this.percentile(95),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.max,
    };
  }

  toJSON(): HistogramJson {
    return {
      unit: this.unit,
      subBucketBits: this.subBucketBits,
      count: this.total,
      sum: this.sum,
      min: this.min,
      max: this.max,
      buckets: this.keys().map((k) => [k, this.counts.get(k) ?? 0]),
    };
  }

  static fromJSON(json: HistogramJson): Histogram {
    const h = new Histogram({ unit: json.unit, subBucketBits: json.subBucketBits });
    for (const [index, n] of json.buckets) h.counts.set(index, n);
    h.total = json.count;
    h.sum = json.sum;
    if (json.count > 0) {
      h.lo = json.min;
      h.hi = json.max;
    }
    return h;
  }

  /** A histogram of the given values, with default layout unless options say otherwise. */
  static of(values: Iterable<number>, options?: HistogramOptions): Histogram {
    const h = new Histogram(options);
    for (const v of values) h.record(v);
    return h;
  }

  private keys(): number[] {
    this.sortedKeys ??= [...this.counts.keys()].sort((a, b) => a - b);
    return this.sortedKeys;
  }

  private indexOf(value: number): number {
    const x = Math.floor(value / this.unit);
    if (x < this.subBuckets) return x;
    const msb = floorLog2(x);
    const shift = msb - this.subBucketBits;
    const sub = Math.floor(x / 2 ** shift);
    return this.subBuckets * (shift + 1) + (sub - this.subBuckets);
  }

  /** The midpoint of a bucket, in the recorded unit. */
  private representative(index: number): number {
    if (index < this.subBuckets) return (index + 0.5) * this.unit;
    const shift = Math.floor(index / this.subBuckets) - 1;
    const sub = (index % this.subBuckets) + this.subBuckets;
    const width = 2 ** shift;
    return (sub * width + width / 2) * this.unit;
  }

  private clamp(v: number): number {
    return Math.min(this.hi, Math.max(this.lo, v));
  }
}

/** floor(log2(x)) for a positive integer, exact beyond 2^32 where Math.clz32 stops. */
function floorLog2(x: number): number {
  let e = Math.floor(Math.log2(x));
  if (2 ** e > x) e -= 1;
  else if (2 ** (e + 1) <= x) e += 1;
  return e;
}

/** The exact nearest-rank percentile of a sorted array; the reference the histogram is tested against. */
export function exactPercentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (q <= 0) return sorted[0]!;
  if (q >= 100) return sorted[sorted.length - 1]!;
  const rank = Math.max(1, Math.ceil((q / 100) * sorted.length));
  return sorted[rank - 1]!;
}
