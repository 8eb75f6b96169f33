import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { isLoopbackUrl, parseArgs, parseDurationS } from "../../../loadtest/args";
import {
  applyOverrides,
  BUILTIN_SCENARIOS,
  scenarioFromJson,
  validateScenario,
} from "../../../loadtest/scenarios";

describe("scenarios", () => {
  it("ships valid, bounded built-ins for every load pattern", () => {
    expect(Object.keys(BUILTIN_SCENARIOS)).toEqual(
      expect.arrayContaining(["constant", "ramp", "spike", "soak", "overload", "closed"]),
    );
    for (const s of Object.values(BUILTIN_SCENARIOS)) {
      expect(validateScenario(s), s.name).toBeUndefined();
      expect(s.durationS).toBeGreaterThan(0);
      expect(s.maxRequests).toBeGreaterThan(0);
      expect(s.maxInFlight).toBeGreaterThan(0);
    }
  });

  it("reads a custom JSON scenario, alone or extending a built-in", () => {
    const s = scenarioFromJson({
      name: "checkout",
      durationS: 30,
      load: {
        kind: "open",
        arrival: "fixed",
        profile: [
          { atS: 0, rps: 1 },
          { atS: 30, rps: 9 },
        ],
      },
      mix: { types: { code: 1 }, streamRatio: 1, models: { code: "deepseek-v4-pro" } },
    });
    expect(s.name).toBe("checkout");
    expect(s.mix.types).toEqual({ code: 1 });
    expect(s.mix.models.code).toBe("deepseek-v4-pro");
    expect(s.mix.models.chat).toBe("deepseek-flash");
    const e = scenarioFromJson({ extends: "spike", durationS: 10 });
    expect(e.load).toMatchObject({ kind: "open", arrival: "poisson" });
    if (e.load.kind === "open")
      expect(e.load.profile.map((p) => Math.round(p.atS * 1000))).toEqual([0, 3333, 3333, 5000, 5000]);
    expect(e.durationS).toBe(10);
  });

  it("explains what is wrong with a bad file", () => {
    expect(() => scenarioFromJson({ load: { kind: "open", profile: [] } })).toThrow(/load.profile/);
    expect(() => scenarioFromJson({ extends: "nope" })).toThrow(/unknown "extends"/);
    expect(() => scenarioFromJson({ durationS: 5 })).toThrow(/"load" is required/);
    expect(() => scenarioFromJson({ extends: "constant", bogus: 1 })).toThrow(/bogus|Unrecognized/);
  });

  it("applies command-line overrides", () => {
    const spike = applyOverrides(BUILTIN_SCENARIOS.spike!, { rate: 60, durationS: 12, arrival: "fixed" });
    if (spike.load.kind !== "open") throw new Error("open expected");
    expect(Math.max(...spike.load.profile.map((p) => p.rps))).toBe(60);
    expect(spike.load.profile[0]!.rps).toBe(6);
    expect(spike.load.arrival).toBe("fixed");
    expect(spike.durationS).toBe(12);
    expect(spike.load.profile.map((p) => p.atS)).toEqual([0, 4, 4, 6, 6]);
    const closed = applyOverrides(BUILTIN_SCENARIOS.constant!, { vus: 3, thinkMs: 100 });
    expect(closed.load).toEqual({ kind: "closed", vus: 3, thinkMs: 100, rampS: 0 });
    const opened = applyOverrides(BUILTIN_SCENARIOS.closed!, { rate: 4 });
    expect(opened.load.kind).toBe("open");
  });
});

describe("command line", () => {
  it("parses options and defaults to loopback and the local key", () => {
    const r = parseArgs(
      ["spike", "--duration", "2m", "--rate=40", "--max-requests", "500", "--out", "x"],
      {},
    );
    if (!r.ok) throw new Error(r.error);
    expect(r.options.scenario).toBe("spike");
    expect(r.options.baseUrl).toBe("http://127.0.0.1:8787");
    expect(r.options.key).toBe("sk-local-dev");
    expect(r.options.overrides).toMatchObject({ durationS: 120, rate: 40, maxRequests: 500 });
    expect(r.options.out).toBe("x");
    const env = parseArgs(["constant"], { ROUTER_KEY: "sk-env" });
    expect(env.ok && env.options.key).toBe("sk-env");
  });

  it("rejects bad input", () => {
    expect(parseArgs(["--duration", "soon"], {}).ok).toBe(false);
    expect(parseArgs(["--frobnicate"], {}).ok).toBe(false);
    expect(parseArgs(["--rate"], {}).ok).toBe(false);
    expect(parseArgs(["a", "b"], {}).ok).toBe(false);
    expect(parseDurationS("500ms")).toBe(0.5);
  });

  it("treats only loopback targets as safe", () => {
    for (const u of ["http://127.0.0.1:8787", "http://localhost:1", "http://[::1]:80", "http://127.3.2.1"]) {
      expect(isLoopbackUrl(u), u).toBe(true);
    }
    for (const u of [
      "https://api.deepseek.com",
      "http://10.0.0.1",
      "http://127.0.0.1.example.com",
      "nonsense",
    ]) {
      expect(isLoopbackUrl(u), u).toBe(false);
    }
  });
});

describe("example scenario files", () => {
  it("parse and validate", async () => {
    const file = new URL("../../../loadtest/examples/checkout-peak.json", import.meta.url);
    const raw: unknown = JSON.parse(await readFile(file, "utf8"));
    const s = scenarioFromJson(raw);
    expect(s.name).toBe("checkout-peak");
    expect(s.mix.tenants).toHaveLength(2);
  });
});
