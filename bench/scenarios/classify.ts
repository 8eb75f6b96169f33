import { countTokens } from "../../sim/tokens";
import { type Classification, classify, type InferenceRequest } from "../../src/classify/classify";
import { estimateTextTokens } from "../../src/classify/tokens";
import { defaultPolicy } from "../../src/config/default-policy";
import { policySchema } from "../../src/config/policy";
import type { Tenant } from "../../src/config/tenants";
import { planRoute } from "../../src/routing/plan";
import { distribution } from "../lib/stats";
import type { BenchScenario, BenchSection } from "../lib/types";
import { corpus } from "./corpus";

const policy = policySchema.parse(defaultPolicy("https://api.deepseek.com"));
const tenant: Tenant = {
  id: "bench",
  keys: ["0".repeat(64)],
  maxPriority: "high",
  allowDegrade: false,
} as Tenant;

/** A chat request whose prompt is about `tokens` tokens of varied text, as the simulator counts them. */
function requestOf(tokens: number): InferenceRequest {
  let text = "";
  for (const doc of corpus()) {
    if (countTokens(text) >= tokens) break;
    text += `${doc.text}\n\n`;
  }
  while (countTokens(text) < tokens) text += text;
  const chars = Math.floor((text.length * tokens) / countTokens(text));
  return {
    endpoint: "chat",
    body: {
      model: "deepseek-v4-flash",
      messages: [
        { role: "system", content: "You are a careful assistant." },
        { role: "user", content: text.slice(0, chars) },
      ],
      stream: true,
    },
  };
}

/** Per-call time of classify + planRoute, in µs, after warming the JIT. */
function timeIt(request: InferenceRequest, iterations: number): number[] {
  const run = (): Classification => classify(request, { priority: "high" }, tenant, policy, Date.now());
  for (let i = 0; i < Math.min(iterations, 500); i++) planRoute(run(), policy, () => true, false);
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    planRoute(run(), policy, () => true, false);
    samples.push((performance.now() - start) * 1000);
  }
  return samples;
}

/**
 * Issue 3: classification plus planning per request (pure functions, no I/O, so timed directly on
 * Node's V8, the engine workerd runs), and the token estimator's error against the simulator's
 * tokenizer on a varied corpus.
 */
export const classifyBench: BenchScenario = {
  name: "classify",
  title: "Classification + planning cost, and token-estimate error",
  async run(ctx): Promise<BenchSection> {
    const rows: Array<Record<string, string>> = [];
    const timings: Record<string, ReturnType<typeof distribution>> = {};
    for (const tokens of [1_000, 100_000]) {
      const request = requestOf(tokens);
      const samples = timeIt(
        request,
        tokens >= 100_000 ? (ctx.quick ? 50 : 400) : ctx.quick ? 2_000 : 20_000,
      );
      const d = distribution(samples);
      timings[tokens] = d;
      ctx.log(`${tokens} tokens: p50 ${d.p50.toFixed(1)} µs`);
      rows.push({
        measure: `classify + plan, ~${tokens.toLocaleString("en")}-token prompt`,
        p50: `${d.p50.toFixed(1)} µs`,
        p99: `${d.p99.toFixed(1)} µs`,
        "µs per 1k tokens (p50)": (d.p50 / (tokens / 1000)).toFixed(2),
      });
    }

    const errors: number[] = [];
    const byKind = new Map<string, number[]>();
    for (const doc of corpus()) {
      const actual = countTokens(doc.text);
      const estimate = estimateTextTokens(doc.text);
      const error = ((estimate - actual) / actual) * 100;
      errors.push(error);
      byKind.set(doc.kind, [...(byKind.get(doc.kind) ?? []), error]);
    }
    const abs = distribution(errors.map(Math.abs));
    const bias = errors.reduce((sum, e) => sum + e, 0) / errors.length;
    rows.push({
      measure: `estimate error vs simulator, ${errors.length} documents (|error| %)`,
      p50: `${abs.p50.toFixed(1)} %`,
      p99: `${abs.max.toFixed(1)} % (max)`,
      "µs per 1k tokens (p50)": `bias ${bias >= 0 ? "+" : ""}${bias.toFixed(1)} %`,
    });
    for (const [kind, kindErrors] of byKind) {
      const mean = kindErrors.reduce((sum, e) => sum + e, 0) / kindErrors.length;
      rows.push({
        measure: `  ${kind}`,
        p50: `${mean >= 0 ? "+" : ""}${mean.toFixed(1)} % (mean)`,
        p99: "",
        "µs per 1k tokens (p50)": "",
      });
    }
    const oneK = timings[1_000]?.p50 ?? Number.NaN;
    return {
      title: classifyBench.title,
      notes: [
        "Timed on Node (V8, the engine workerd embeds) since both functions are pure; prompts are the varied corpus in bench/scenarios/corpus.ts.",
        "The estimator walks character classes as byte-level BPE splits them (src/classify/tokens.ts); the simulator's tokenizer approximates DeepSeek's BPE more closely (sim/tokens.ts). Error = (estimate − simulator) ÷ simulator.",
      ],
      columns: ["measure", "p50", "p99", "µs per 1k tokens (p50)"],
      rows,
      goals: [
        {
          goal: "classify + plan ≤ 50 µs p50 for a 1k-token prompt",
          measured: `${oneK.toFixed(1)} µs`,
          met: oneK <= 50,
        },
      ],
    };
  },
};
