import { describe, expect, it } from "vitest";
import {
  constantProfile,
  driveVirtualUsers,
  expectedArrivals,
  rampProfile,
  rateAt,
  scheduleArrivals,
  spikeProfile,
  timeOfExpected,
} from "../../../loadtest/arrivals";
import { seededRng } from "../../../loadtest/rng";

const countIn = (times: number[], a: number, b: number) => times.filter((t) => t >= a && t < b).length;

describe("open-loop schedules", () => {
  it("fixed arrivals keep a constant rate in every window", () => {
    const times = scheduleArrivals(
      constantProfile(20),
      { process: "fixed", durationS: 60, rng: seededRng(1) },
      10_000,
    );
    expect(times.length).toBe(1200);
    for (let a = 0; a < 60; a += 5) expect(Math.abs(countIn(times, a, a + 5) - 100)).toBeLessThanOrEqual(1);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeCloseTo(0.05, 9);
  });

  it("fixed arrivals follow a ramp: each window holds the integral of the rate", () => {
    const profile = rampProfile(2, 50, 40);
    const times = scheduleArrivals(profile, { process: "fixed", durationS: 40, rng: seededRng(1) }, 10_000);
    for (let a = 0; a < 40; a += 4) {
      const expected = expectedArrivals(profile, a + 4) - expectedArrivals(profile, a);
      expect(Math.abs(countIn(times, a, a + 4) - expected)).toBeLessThanOrEqual(1);
    }
    expect(times.length).toBe(Math.round(expectedArrivals(profile, 40)));
  });

  it("a spike is a step: the burst window carries the peak rate", () => {
    const profile = spikeProfile(5, 50, 10, 5);
    expect(rateAt(profile, 9.99)).toBe(5);
    expect(rateAt(profile, 10)).toBe(50);
    expect(rateAt(profile, 15)).toBe(5);
    const times = scheduleArrivals(profile, { process: "fixed", durationS: 30, rng: seededRng(1) }, 10_000);
    expect(Math.abs(countIn(times, 10, 15) - 250)).toBeLessThanOrEqual(1);
    expect(Math.abs(countIn(times, 0, 10) - 50)).toBeLessThanOrEqual(1);
    expect(Math.abs(countIn(times, 15, 30) - 75)).toBeLessThanOrEqual(1);
  });

  it("timeOfExpected inverts expectedArrivals", () => {
    const profile = [
      { atS: 0, rps: 0 },
      { atS: 10, rps: 30 },
      { atS: 10, rps: 5 },
      { atS: 20, rps: 5 },
      { atS: 30, rps: 0 },
    ];
    for (const t of [0.5, 3, 9.9, 10.5, 15, 22, 29]) {
      expect(timeOfExpected(profile, expectedArrivals(profile, t))).toBeCloseTo(t, 6);
    }
    expect(timeOfExpected(profile, expectedArrivals(profile, 30) + 1)).toBeUndefined();
  });

  it("poisson arrivals have the right mean rate and exponential gaps", () => {
    const rate = 50;
    const durationS = 400;
    const times = scheduleArrivals(
      constantProfile(rate),
      { process: "poisson", durationS, rng: seededRng(3) },
      100_000,
    );
    const expected = rate * durationS;
    expect(Math.abs(times.length - expected)).toBeLessThan(4 * Math.sqrt(expected));
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length);
    expect(mean).toBeCloseTo(1 / rate, 3);
    expect(sd / mean).toBeGreaterThan(0.95);
    expect(sd / mean).toBeLessThan(1.05);
    const perSecond = Array.from({ length: durationS }, (_, s) => countIn(times, s, s + 1));
    const m = perSecond.reduce((a, b) => a + b, 0) / durationS;
    const v = perSecond.reduce((a, c) => a + (c - m) ** 2, 0) / durationS;
    expect(v / m).toBeGreaterThan(0.8);
    expect(v / m).toBeLessThan(1.2);
  });

  it("poisson arrivals follow a time-varying profile and are reproducible from the seed", () => {
    const profile = spikeProfile(10, 100, 20, 10);
    const opts = { process: "poisson" as const, durationS: 60, rng: seededRng(11) };
    const times = scheduleArrivals(profile, opts, 100_000);
    for (const [a, b] of [
      [0, 20],
      [20, 30],
      [30, 60],
    ] as const) {
      const expected = expectedArrivals(profile, b) - expectedArrivals(profile, a);
      expect(Math.abs(countIn(times, a, b) - expected)).toBeLessThan(4 * Math.sqrt(expected));
    }
    expect(scheduleArrivals(profile, { ...opts, rng: seededRng(11) }, 100_000)).toEqual(times);
    expect(times.every((t) => t < 60)).toBe(true);
  });

  it("caps the schedule at maxCount", () => {
    const times = scheduleArrivals(
      constantProfile(1000),
      { process: "poisson", durationS: 3600, rng: seededRng(1) },
      250,
    );
    expect(times.length).toBe(250);
  });
});

describe("closed-loop virtual users", () => {
  it("never has more than `vus` requests outstanding and stops when told", async () => {
    let inFlight = 0;
    let peak = 0;
    let done = 0;
    await driveVirtualUsers({
      vus: 4,
      thinkMs: 1,
      rampMs: 4,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      shouldStop: () => done >= 40,
      iterate: async () => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 2));
        inFlight -= 1;
        done += 1;
      },
    });
    expect(peak).toBe(4);
    expect(done).toBeGreaterThanOrEqual(40);
    expect(done).toBeLessThanOrEqual(44);
  });
});
