import { describe, expect, it } from "vitest";
import { exactPercentile, Histogram } from "../../../loadtest/histogram";
import { normalDraw, seededRng } from "../../../loadtest/rng";

const QS = [0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99];

function withinError(h: Histogram, got: number, exact: number): boolean {
  return Math.abs(got - exact) <= exact * h.relativeError + h.unit;
}

describe("Histogram percentiles", () => {
  it("match exact nearest-rank percentiles on long-tailed random data within the stated error", () => {
    const rng = seededRng(42);
    for (let trial = 0; trial < 5; trial++) {
      const values = Array.from({ length: 20_000 }, () => Math.exp(4 + 1.5 * normalDraw(rng)));
      const h = Histogram.of(values);
      const sorted = [...values].sort((a, b) => a - b);
      for (const q of QS) {
        const exact = exactPercentile(sorted, q);
        const got = h.percentile(q);
        expect(withinError(h, got, exact), `q=${q} got=${got} exact=${exact}`).toBe(true);
      }
      expect(h.min).toBe(sorted[0]);
      expect(h.max).toBe(sorted[sorted.length - 1]);
      expect(h.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 6);
    }
  });

  it("is exact to one unit for small values and handles huge ones", () => {
    const h = new Histogram({ unit: 1, subBucketBits: 4 });
    for (let v = 0; v < 16; v++) h.record(v);
    expect(h.percentile(50)).toBeCloseTo(7.5, 5);
    const big = new Histogram();
    big.record(3e9);
    big.record(7e12);
    expect(withinError(big, big.percentile(99), 7e12)).toBe(true);
    expect(withinError(big, big.percentile(10), 3e9)).toBe(true);
  });

  it("has a tighter bound with more sub-buckets", () => {
    const rng = seededRng(9);
    const values = Array.from({ length: 5000 }, () => rng() * 1000);
    const sorted = [...values].sort((a, b) => a - b);
    for (const bits of [3, 5, 8, 10]) {
      const h = Histogram.of(values, { subBucketBits: bits });
      for (const q of QS) expect(withinError(h, h.percentile(q), exactPercentile(sorted, q))).toBe(true);
    }
  });

  it("merges to the same result as recording everything in one", () => {
    const rng = seededRng(7);
    const a = new Histogram();
    const b = new Histogram();
    const all = new Histogram();
    for (let i = 0; i < 5000; i++) {
      const v = rng() * 500;
      (i % 3 === 0 ? a : b).record(v);
      all.record(v);
    }
    a.merge(b);
    expect(a.count).toBe(all.count);
    for (const q of QS) expect(a.percentile(q)).toBe(all.percentile(q));
    expect(() => a.merge(new Histogram({ subBucketBits: 4 }))).toThrow(/incompatible/);
  });

  it("round-trips through JSON and is NaN when empty", () => {
    const h = Histogram.of([1, 2, 3, 50, 900]);
    const back = Histogram.fromJSON(JSON.parse(JSON.stringify(h.toJSON())));
    expect(back.summary()).toEqual(h.summary());
    const empty = new Histogram();
    expect(empty.percentile(50)).toBeNaN();
    expect(empty.summary().count).toBe(0);
    empty.record(-1);
    empty.record(Number.NaN);
    expect(empty.count).toBe(0);
  });

  it("exactPercentile follows nearest rank", () => {
    expect(exactPercentile([1, 2, 3, 4], 50)).toBe(2);
    expect(exactPercentile([1, 2, 3, 4], 51)).toBe(3);
    expect(exactPercentile([1, 2, 3, 4], 100)).toBe(4);
    expect(exactPercentile([5], 99.9)).toBe(5);
  });
});
