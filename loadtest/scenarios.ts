import { z } from "zod";
import {
  type ArrivalProcess,
  constantProfile,
  type RateProfile,
  rampProfile,
  spikeProfile,
  validateProfile,
} from "./arrivals";
import {
  LATENCY_LEVELS,
  type MixConfig,
  PRIORITY_LEVELS,
  REQUEST_TYPES,
  resolveMix,
  validateMix,
} from "./mix";

export type LoadShape =
  | { kind: "open"; arrival: ArrivalProcess; profile: RateProfile }
  | { kind: "closed"; vus: number; thinkMs: number; rampS: number };

export interface Scenario {
  name: string;
  description: string;
  load: LoadShape;
  /** Hard bound on the sending phase; in-flight requests then get `timeoutS` to finish. */
  durationS: number;
  maxRequests: number;
  maxInFlight: number;
  timeoutS: number;
  seed: number;
  mix: MixConfig;
  /** Simulator options `--local` passes to the stack it starts. */
  local?: { sim?: Record<string, unknown> };
}

const base = { maxRequests: 10_000, maxInFlight: 256, timeoutS: 120, seed: 1, mix: resolveMix() };

/** The built-in scenarios, by name. Durations are short enough to run on a laptop. */
export const BUILTIN_SCENARIOS: Record<string, Scenario> = {
  constant: {
    ...base,
    name: "constant",
    description: "Steady open-loop Poisson arrivals at 5 req/s for 60 s: the baseline.",
    load: { kind: "open", arrival: "poisson", profile: constantProfile(5) },
    durationS: 60,
  },
  ramp: {
    ...base,
    name: "ramp",
    description: "Arrivals rise linearly from 1 to 30 req/s over 90 s: where does latency bend?",
    load: { kind: "open", arrival: "fixed", profile: rampProfile(1, 30, 90) },
    durationS: 90,
  },
  spike: {
    ...base,
    name: "spike",
    description: "3 req/s, a 10 s burst at 30 req/s from t=20 s, then 3 req/s again: shedding and recovery.",
    load: { kind: "open", arrival: "poisson", profile: spikeProfile(3, 30, 20, 10) },
    durationS: 60,
  },
  soak: {
    ...base,
    name: "soak",
    description:
      "4 req/s Poisson for 30 min with a repeat-heavy mix: leaks, drift and cache behaviour over time.",
    load: { kind: "open", arrival: "poisson", profile: constantProfile(4) },
    durationS: 1800,
    maxRequests: 10_000,
    mix: resolveMix({ repeatRatio: 0.3 }),
  },
  overload: {
    ...base,
    name: "overload",
    description:
      "Ramp from 5 to 100 req/s over 60 s, far past capacity: 429s with Retry-After, not timeouts.",
    load: { kind: "open", arrival: "fixed", profile: rampProfile(5, 100, 60) },
    durationS: 60,
    maxInFlight: 512,
    timeoutS: 60,
    mix: resolveMix({ priorities: { high: 0.2, normal: 0.6, low: 0.2 } }),
    local: { sim: { concurrency: 16, overload: "reject429", retryAfter: true } },
  },
  closed: {
    ...base,
    name: "closed",
    description: "Closed loop: 8 virtual users, each sending its next request as soon as the last ends.",
    load: { kind: "closed", vus: 8, thinkMs: 0, rampS: 2 },
    durationS: 60,
  },
};

const shares = <T extends readonly [string, ...string[]]>(keys: T) =>
  z.partialRecord(z.enum(keys), z.number().min(0));

const lengthSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("fixed"), tokens: z.number().int().min(1) }),
  z.strictObject({ kind: z.literal("uniform"), min: z.number().int().min(1), max: z.number().int().min(1) }),
  z.strictObject({
    kind: z.literal("lognormal"),
    median: z.number().positive(),
    sigma: z.number().min(0),
    max: z.number().int().min(1),
  }),
]);

const mixSchema = z.strictObject({
  types: shares(REQUEST_TYPES).optional(),
  streamRatio: z.number().min(0).max(1).optional(),
  promptTokens: lengthSchema.optional(),
  maxTokens: z.number().int().min(1).optional(),
  repeatRatio: z.number().min(0).max(1).optional(),
  repeatPool: z.number().int().min(0).optional(),
  priorities: shares(PRIORITY_LEVELS).optional(),
  latency: shares(LATENCY_LEVELS).optional(),
  tenants: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        share: z.number().min(0),
        key: z.string().min(1).optional(),
      }),
    )
    .min(1)
    .optional(),
  models: z.partialRecord(z.enum(REQUEST_TYPES), z.string().min(1)).optional(),
  path: z.string().startsWith("/").optional(),
});

const loadSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("open"),
    arrival: z.enum(["fixed", "poisson"]).default("poisson"),
    profile: z.array(z.strictObject({ atS: z.number().min(0), rps: z.number().min(0) })).min(1),
  }),
  z.strictObject({
    kind: z.literal("closed"),
    vus: z.number().int().min(1),
    thinkMs: z.number().min(0).default(0),
    rampS: z.number().min(0).default(0),
  }),
]);

/** The custom scenario file: every field optional when `extends` names a built-in to start from. */
const customScenarioSchema = z.strictObject({
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  extends: z.string().optional(),
  load: loadSchema.optional(),
  durationS: z.number().positive().optional(),
  maxRequests: z.number().int().min(1).optional(),
  maxInFlight: z.number().int().min(1).optional(),
  timeoutS: z.number().positive().optional(),
  seed: z.number().int().optional(),
  mix: mixSchema.optional(),
  local: z.strictObject({ sim: z.record(z.string(), z.unknown()).optional() }).optional(),
});
/** Builds a scenario from a parsed custom file; throws with every problem listed. */
export function scenarioFromJson(raw: unknown, fallbackName = "custom"): Scenario {
  const parsed = customScenarioSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`invalid scenario file:\n${lines.join("\n")}`);
  }
  const f = parsed.data;
  const parent = f.extends === undefined ? undefined : BUILTIN_SCENARIOS[f.extends];
  if (f.extends !== undefined && !parent) throw new Error(`scenario file: unknown "extends": ${f.extends}`);
  if (!parent && !f.load)
    throw new Error('scenario file: "load" is required unless "extends" names a built-in');
  const start = parent ?? BUILTIN_SCENARIOS.constant!;
  const scenario: Scenario = {
    ...start,
    name: f.name ?? fallbackName,
    description: f.description ?? (parent ? `${parent.description} (customised)` : "custom scenario"),
    load: f.load ?? stretchTo(start, f.durationS),
    durationS: f.durationS ?? start.durationS,
    maxRequests: f.maxRequests ?? start.maxRequests,
    maxInFlight: f.maxInFlight ?? start.maxInFlight,
    timeoutS: f.timeoutS ?? start.timeoutS,
    seed: f.seed ?? start.seed,
    mix: { ...start.mix, ...f.mix, models: { ...start.mix.models, ...f.mix?.models } },
    local: f.local ?? start.local,
  };
  const problem = validateScenario(scenario);
  if (problem) throw new Error(`scenario file: ${problem}`);
  return scenario;
}

export function validateScenario(s: Scenario): string | undefined {
  if (s.load.kind === "open") {
    const p = validateProfile(s.load.profile);
    if (p) return p;
  }
  return validateMix(s.mix);
}

export interface ScenarioOverrides {
  maxRequests?: number;
  maxInFlight?: number;
  timeoutS?: number;
  /** Also stretches an open profile's time axis, so a ramp or spike keeps its shape. */
  durationS?: number;
  /** Scales an open profile so its peak is this rate; turns a closed scenario into constant open load. */
  rate?: number;
  arrival?: ArrivalProcess;
  /** Switches to a closed loop with this many virtual users. */
  vus?: number;
  thinkMs?: number;
  seed?: number;
  streamRatio?: number;
  repeatRatio?: number;
}

/** A scenario with command-line overrides applied. Pure. */
export function applyOverrides(s: Scenario, o: ScenarioOverrides): Scenario {
  let load = s.load;
  if (o.vus !== undefined) {
    load = {
      kind: "closed",
      vus: o.vus,
      thinkMs: o.thinkMs ?? (load.kind === "closed" ? load.thinkMs : 0),
      rampS: 0,
    };
  } else if (o.rate !== undefined) {
    load =
      load.kind === "open"
        ? { ...load, profile: scaleToPeak(load.profile, o.rate) }
        : { kind: "open", arrival: "poisson", profile: constantProfile(o.rate) };
  } else if (o.thinkMs !== undefined && load.kind === "closed") {
    load = { ...load, thinkMs: o.thinkMs };
  }
  if (o.arrival && load.kind === "open") load = { ...load, arrival: o.arrival };
  if (o.durationS !== undefined && load.kind === "open" && s.durationS > 0) {
    // A shaped profile (ramp, spike) is stretched to the new duration so the whole shape still runs.
    load = { ...load, profile: stretch(load.profile, o.durationS / s.durationS) };
  }
  return {
    ...s,
    load,
    durationS: o.durationS ?? s.durationS,
    maxRequests: o.maxRequests ?? s.maxRequests,
    maxInFlight: o.maxInFlight ?? s.maxInFlight,
    timeoutS: o.timeoutS ?? s.timeoutS,
    seed: o.seed ?? s.seed,
    mix: {
      ...s.mix,
      streamRatio: o.streamRatio ?? s.mix.streamRatio,
      repeatRatio: o.repeatRatio ?? s.mix.repeatRatio,
    },
  };
}

function stretchTo(s: Scenario, durationS: number | undefined): LoadShape {
  if (durationS === undefined || s.load.kind !== "open") return s.load;
  return { ...s.load, profile: stretch(s.load.profile, durationS / s.durationS) };
}

function stretch(profile: RateProfile, factor: number): RateProfile {
  return profile.map((p) => ({ atS: p.atS * factor, rps: p.rps }));
}

function scaleToPeak(profile: RateProfile, peak: number): RateProfile {
  const max = Math.max(...profile.map((p) => p.rps));
  if (max <= 0) return constantProfile(peak);
  return profile.map((p) => ({ atS: p.atS, rps: (p.rps * peak) / max }));
}

/** One line describing the load, for progress output and reports. */
export function describeLoad(load: LoadShape): string {
  if (load.kind === "closed") {
    return `closed loop, ${load.vus} VUs${load.thinkMs > 0 ? `, ${load.thinkMs} ms think time` : ""}`;
  }
  const rates = load.profile.map((p) => p.rps);
  const lo = Math.min(...rates);
  const hi = Math.max(...rates);
  const rate = lo === hi ? `${fmt(hi)} req/s` : `${fmt(lo)}–${fmt(hi)} req/s`;
  return `open loop, ${load.arrival} arrivals, ${rate}`;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}
