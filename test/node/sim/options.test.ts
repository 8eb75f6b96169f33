import { describe, expect, it } from "vitest";
import { FLAGS, helpText, parseCli } from "../../../sim/cli";
import { defaultSimOptions, mergeSimOptions, parseSimOptions } from "../../../sim/options";

describe("parseSimOptions", () => {
  it("returns the defaults for an empty patch", () => {
    expect(parseSimOptions({})).toEqual(defaultSimOptions);
    expect(parseSimOptions(undefined)).toEqual(defaultSimOptions);
  });

  it("deep-merges nested fault settings", () => {
    const o = parseSimOptions({ faults: { statusRates: { "503": 0.2 }, cutMidStreamRate: 0.1 } });
    expect(o.faults.statusRates).toEqual({ "429": 0, "500": 0, "502": 0, "503": 0.2, "504": 0 });
    expect(o.faults.cutMidStreamRate).toBe(0.1);
    expect(o.faults.stallMs).toBe(defaultSimOptions.faults.stallMs);
  });

  it("merges over a base and replaces arrays", () => {
    const base = parseSimOptions({ apiKeys: ["sk-a"], concurrency: 3 });
    const o = mergeSimOptions(base, { apiKeys: ["sk-b"] });
    expect(o.apiKeys).toEqual(["sk-b"]);
    expect(o.concurrency).toBe(3);
  });

  it("names the offending field", () => {
    expect(() => parseSimOptions({ concurrency: -1 })).toThrow(/concurrency/);
    expect(() => parseSimOptions({ era: "v9" })).toThrow(/era/);
    expect(() => parseSimOptions({ faults: { statusRates: { "503": 2 } } })).toThrow(
      /faults\.statusRates\.503/,
    );
    expect(() => parseSimOptions({ faultScript: [{ kind: "explode" }] })).toThrow(/faultScript\.0/);
    expect(() => parseSimOptions({ ttftMss: 5 })).toThrow(/ttftMss/);
    expect(() => parseSimOptions({ faults: { blankBodyRate: 0.6, cutMidStreamRate: 0.6 } })).toThrow(
      /more than 1/,
    );
    expect(() => parseSimOptions([1])).toThrow(/expected an object/);
  });

  it("accepts every fault kind in a script", () => {
    const script = [
      { kind: "none" },
      { kind: "status", status: 503 },
      { kind: "cutMidStream", afterChunks: 3 },
      { kind: "stallBeforeFirstToken", ms: 10, keepAlive: false },
      { kind: "stallMidStream", afterChunks: 2, ms: 10 },
      { kind: "blankBody", lines: 3 },
      { kind: "insufficientResource", afterTokens: 5 },
      { kind: "slow", ttftMs: 100, tokensPerS: 10 },
    ];
    expect(parseSimOptions({ faultScript: script }).faultScript).toEqual(script);
  });
});

describe("CLI flags", () => {
  it("reads flags, env and repeated error rates", () => {
    const r = parseCli(
      [
        "--port",
        "9000",
        "--concurrency=16",
        "--ttft-ms",
        "200",
        "--error-rate",
        "503=0.2",
        "--error-rate=429=0.1,500=0.05",
      ],
      { SIM_TOKENS_PER_S: "80", SIM_CONCURRENCY: "4", SIM_OVERLOAD: "queue" },
    );
    expect(r.port).toBe(9000);
    expect(r.patch).toEqual({
      concurrency: 16,
      ttftMs: 200,
      tokensPerS: 80,
      overload: "queue",
      faults: { statusRates: { "503": 0.2, "429": 0.1, "500": 0.05 } },
    });
    expect(() => parseSimOptions(r.patch)).not.toThrow();
  });

  it("parses on/off flags, lists and JSON", () => {
    const r = parseCli(
      [
        "--retry-after",
        "--no-stall-keep-alive",
        "--api-keys",
        "sk-a, sk-b",
        "--fault-script",
        '[{"kind":"none"}]',
      ],
      {},
    );
    expect(r.patch).toEqual({
      retryAfter: true,
      faults: { stallKeepAlive: false },
      apiKeys: ["sk-a", "sk-b"],
      faultScript: [{ kind: "none" }],
    });
  });

  it("rejects unknown flags and bad values", () => {
    expect(() => parseCli(["--nope"], {})).toThrow(/unknown argument/);
    expect(() => parseCli(["--concurrency", "x"], {})).toThrow(/integer/);
    expect(() => parseCli(["--error-rate", "oops"], {})).toThrow(/STATUS=RATE/);
    expect(() => parseCli([], { SIM_TTFT_MS: "1.5" })).toThrow(/SIM_TTFT_MS/);
  });

  it("documents every flag with its env var in --help", () => {
    expect(parseCli(["--help"], {}).help).toBe(true);
    const help = helpText();
    for (const f of FLAGS) {
      expect(help).toContain(`--${f.flag}`);
      expect(help).toContain(`SIM_${f.flag.toUpperCase().replaceAll("-", "_")}`);
    }
  });
});
