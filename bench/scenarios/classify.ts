import { countTokens } from "../../sim/tokens";
import { classify, type InferenceRequest } from "../../src/classify/classify";
import { fingerprintPrompt } from "../../src/classify/fingerprint";
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

/** Per-call time of `call`, in µs, after warming the JIT. */
function timeIt(call: () => unknown, iterations: number): number[] {
  for (let i = 0; i < Math.min(iterations, 500); i++) call();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    call();
    samples.push((performance.now() - start) * 1000);
  }
  return samples;
}

/** classify + planRoute of `request`, as the router runs them per request. */
const classifyAndPlan = (request: InferenceRequest) => () =>
  planRoute(classify(request, { priority: "high" }, tenant, policy, Date.now()), policy, () => true, false);

/** The prompt fingerprint a request's record keeps, with `request`'s prompt as the system prompt. */
function fingerprintOfSystemPrompt(request: InferenceRequest): () => unknown {
  const text = (request.body.messages as Array<{ content: string }>)[1]?.content ?? "";
  const body = {
    ...request.body,
    messages: [
      { role: "system", content: text },
      { role: "user", content: "Hi." },
    ],
  };
  const raw = JSON.stringify(body);
  return () => fingerprintPrompt(body, raw);
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
    const measures = [
      { label: "classify + plan, ~%s-token prompt", call: classifyAndPlan },
      { label: "prompt fingerprint (records on), ~%s-token system prompt", call: fingerprintOfSystemPrompt },
    ];
    for (const { label, call } of measures) {
      for (const tokens of [1_000, 100_000]) {
        const samples = timeIt(
          call(requestOf(tokens)),
          tokens >= 100_000 ? (ctx.quick ? 50 : 400) : ctx.quick ? 2_000 : 20_000,
        );
        const d = distribution(samples);
        if (call === classifyAndPlan) timings[tokens] = d;
        const measure = label.replace("%s", tokens.toLocaleString("en"));
        ctx.log(`${measure}: p50 ${d.p50.toFixed(1)} µs`);
        rows.push({
          measure,
          p50: `${d.p50.toFixed(1)} µs`,
          p99: `${d.p99.toFixed(1)} µs`,
          "µs per 1k tokens (p50)": (d.p50 / (tokens / 1000)).toFixed(2),
        });
      }
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
        "Timed on Node (V8, the engine workerd embeds) since these functions are pure; prompts are the varied corpus in bench/scenarios/corpus.ts. The fingerprint (src/classify/fingerprint.ts) is what a request's record keeps for the prompt-cost insights: its prefix (system prompt and tools) hashed exactly and with volatile parts masked, the body hashed, the prefix's tokens estimated; past 64 KiB of body it reads samples of long strings, so its cost stops growing.",
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
