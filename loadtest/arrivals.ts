import { expDraw, type Rng } from "./rng";

/** One corner of a piecewise-linear rate profile: `rps` requests per second at `atS` seconds. */
export interface RatePoint {
  atS: number;
  rps: number;
}

/**
 * Arrival rate over time, linear between points. Before the first point the first rate holds, after
 * the last point the last rate holds. Two points at the same time make a step.
 */
export type RateProfile = readonly RatePoint[];

/** `fixed`: evenly spaced by the current rate. `poisson`: exponential gaps with the current rate as mean. */
export type ArrivalProcess = "fixed" | "poisson";

export function constantProfile(rps: number): RateProfile {
  return [{ atS: 0, rps }];
}

export function rampProfile(fromRps: number, toRps: number, overS: number): RateProfile {
  return [
    { atS: 0, rps: fromRps },
    { atS: overS, rps: toRps },
  ];
}

/** `baseRps`, then `peakRps` for `forS` seconds starting at `atS`, then `baseRps` again. */
export function spikeProfile(baseRps: number, peakRps: number, atS: number, forS: number): RateProfile {
  return [
    { atS: 0, rps: baseRps },
    { atS, rps: baseRps },
    { atS, rps: peakRps },
    { atS: atS + forS, rps: peakRps },
    { atS: atS + forS, rps: baseRps },
  ];
}

export function validateProfile(profile: RateProfile): string | undefined {
  if (profile.length === 0) return "rate profile is empty";
  for (const [i, p] of profile.entries()) {
    if (!Number.isFinite(p.atS) || !Number.isFinite(p.rps) || p.rps < 0 || p.atS < 0) {
      return `rate point ${i} must have finite atS ≥ 0 and rps ≥ 0`;
    }
    const prev = profile[i - 1];
    if (prev && p.atS < prev.atS) return `rate point ${i} goes back in time`;
  }
  return undefined;
}

/** The rate at time t (seconds). */
export function rateAt(profile: RateProfile, t: number): number {
  const first = profile[0];
  if (!first) return 0;
  if (t < first.atS) return first.rps;
  for (let i = 1; i < profile.length; i++) {
    const a = profile[i - 1]!;
    const b = profile[i]!;
    if (t < b.atS) return a.rps + ((b.rps - a.rps) * (t - a.atS)) / (b.atS - a.atS);
  }
  return profile[profile.length - 1]!.rps;
}

/** Λ(t): the expected number of arrivals in [0, t), the integral of the rate. */
export function expectedArrivals(profile: RateProfile, t: number): number {
  let total = 0;
  for (const seg of segments(profile)) {
    if (t <= seg.t0) break;
    const tau = Math.min(t, seg.t1) - seg.t0;
    total += seg.r0 * tau + (seg.slope * tau * tau) / 2;
  }
  return total;
}

/** The earliest t with Λ(t) = target, or undefined if the profile never gets there. */
export function timeOfExpected(profile: RateProfile, target: number): number | undefined {
  let acc = 0;
  for (const seg of segments(profile)) {
    const span = seg.t1 - seg.t0;
    const mass = Number.isFinite(span)
      ? seg.r0 * span + (seg.slope * span * span) / 2
      : Number.POSITIVE_INFINITY;
    if (target <= acc + mass) {
      const need = target - acc;
      if (need <= 0) return seg.t0;
      // Solve r0·τ + slope/2·τ² = need in the cancellation-free form.
      const disc = seg.r0 * seg.r0 + 2 * seg.slope * need;
      const tau = (2 * need) / (seg.r0 + Math.sqrt(Math.max(0, disc)));
      return Number.isFinite(tau) ? seg.t0 + tau : undefined;
    }
    acc += mass;
  }
  return undefined;
}

interface ScheduleOptions {
  process: ArrivalProcess;
  /** No arrival at or after this time (seconds). */
  durationS: number;
  rng: Rng;
}

/**
 * Arrival times in seconds from the start, ascending. Both processes invert Λ: `fixed` puts the k-th
 * arrival at Λ = k + ½; `poisson` at Λ = a sum of k unit-mean exponentials (the time-rescaling
 * theorem), which gives a Poisson process whose intensity follows the profile exactly.
 */
export function* arrivalTimes(profile: RateProfile, options: ScheduleOptions): Generator<number> {
  let target = options.process === "fixed" ? 0.5 : expDraw(options.rng);
  for (;;) {
    const t = timeOfExpected(profile, target);
    if (t === undefined || t >= options.durationS) return;
    yield t;
    target += options.process === "fixed" ? 1 : expDraw(options.rng);
  }
}

/** The schedule as an array, capped at `maxCount` entries. */
export function scheduleArrivals(profile: RateProfile, options: ScheduleOptions, maxCount: number): number[] {
  const out: number[] = [];
  for (const t of arrivalTimes(profile, options)) {
    if (out.length >= maxCount) break;
    out.push(t);
  }
  return out;
}

interface VirtualUserOptions {
  vus: number;
  /** Pause between a VU's requests. */
  thinkMs: number;
  /** VUs start evenly spread over this many ms. */
  rampMs: number;
  /** Asked before each iteration; true ends that VU. */
  shouldStop(): boolean;
  /** One request; resolves when its response is fully read. */
  iterate(vu: number): Promise<void>;
  sleep(ms: number): Promise<void>;
}

/**
 * Closed loop: each of `vus` users sends one request, waits for it to finish, thinks, and repeats.
 * The offered load therefore drops when the server slows: report it as such, not as a rate.
 */
export async function driveVirtualUsers(options: VirtualUserOptions): Promise<void> {
  const user = async (vu: number): Promise<void> => {
    if (options.rampMs > 0 && options.vus > 1) await options.sleep((options.rampMs * vu) / options.vus);
    while (!options.shouldStop()) {
      await options.iterate(vu);
      if (options.thinkMs > 0 && !options.shouldStop()) await options.sleep(options.thinkMs);
    }
  };
  await Promise.all(Array.from({ length: options.vus }, (_, vu) => user(vu)));
}

interface Segment {
  t0: number;
  t1: number;
  r0: number;
  slope: number;
}

function* segments(profile: RateProfile): Generator<Segment> {
  const first = profile[0];
  if (!first) return;
  if (first.atS > 0) yield { t0: 0, t1: first.atS, r0: first.rps, slope: 0 };
  for (let i = 1; i < profile.length; i++) {
    const a = profile[i - 1]!;
    const b = profile[i]!;
    if (b.atS > a.atS) yield { t0: a.atS, t1: b.atS, r0: a.rps, slope: (b.rps - a.rps) / (b.atS - a.atS) };
  }
  const last = profile[profile.length - 1]!;
  yield { t0: last.atS, t1: Number.POSITIVE_INFINITY, r0: last.rps, slope: 0 };
}
