import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AttemptOutcome, StepGate, StepPass } from "../../../src/admission/step-gate";
import type { PolicyInput } from "../../../src/config/policy";
import { attemptPlan } from "../../../src/proxy/attempt";
import type { RoutePlan } from "../../../src/routing/plan";
import { chatBody, createSim, eventually, type SimInstance, singlePoolPolicy } from "../helpers";
import { policyOf } from "../policy-fixtures";

/** Counts passes given and every release call, guarded or not, so a double release shows. */
class RecordingGate implements StepGate {
  entered = 0;
  readonly released: AttemptOutcome[] = [];

  async enter(): Promise<StepPass> {
    this.entered++;
    return { queuedMs: 0, release: (outcome) => this.released.push(outcome) };
  }
}

function setup(sim: SimInstance, pool: Record<string, unknown> = {}) {
  const name = `release-${crypto.randomUUID().slice(0, 8)}`;
  const policy = policyOf(JSON.parse(singlePoolPolicy(sim.baseUrl, pool, name)) as PolicyInput);
  const plan: RoutePlan = {
    steps: [
      {
        pool: name,
        provider: "deepseek",
        model: "deepseek-v4-flash",
        upstreamModel: "deepseek-v4-flash",
        disableThinking: false,
      },
    ],
    ejected: [],
    reason: "test",
  };
  const body = chatBody();
  const call = { endpoint: "chat" as const, body, rawBody: JSON.stringify(body), stream: false, beta: false };
  const deadlines = {
    receivedAt: Date.now(),
    totalAt: Date.now() + 10_000,
    latency: "interactive" as const,
    commitAfterMs: 10_000,
  };
  return { policy, plan, call, deadlines };
}

describe("every admission pass is released exactly once", () => {
  it("after a retried upstream failure, and once more when the answer is settled (twice)", async () => {
    const sim = await createSim({ faultScript: [{ kind: "status", status: 500 }] });
    const { policy, plan, call, deadlines } = setup(sim, { retries: { max: 2, baseMs: 1, capMs: 1 } });
    const gate = new RecordingGate();
    const attempt = await attemptPlan({
      plan,
      policy,
      call,
      env,
      signal: new AbortController().signal,
      deadlines,
      gate,
    });
    expect(gate.entered).toBe(2);
    expect(gate.released).toEqual([{ kind: "failure", status: 500 }]);
    attempt.settle({ kind: "success", status: 200 });
    attempt.settle({ kind: "success", status: 200 });
    expect(gate.released).toHaveLength(2);
  });

  it("when the client leaves while the upstream request is being sent", async () => {
    const sim = await createSim({ ttftMs: 2_000 });
    const { policy, plan, call, deadlines } = setup(sim);
    const gate = new RecordingGate();
    const client = new AbortController();
    setTimeout(() => client.abort(new Error("client left")), 50);
    await expect(
      attemptPlan({ plan, policy, call, env, signal: client.signal, deadlines, gate }),
    ).rejects.toThrow("client left");
    expect(gate.entered).toBe(1);
    // The upstream still counts a call it has not yet seen aborted, so its slot is held a moment more.
    expect(gate.released).toEqual([]);
    await eventually(
      async () => expect(gate.released).toEqual([{ kind: "abandoned" }]),
      (policy.pools[plan.steps[0]?.pool ?? ""]?.admission.abortHoldMs ?? 0) + 1_000,
    );
  });

  it("when the upstream refuses the request for good", async () => {
    const sim = await createSim();
    const { policy, plan, call, deadlines } = setup(sim);
    const gate = new RecordingGate();
    const unknownModel = {
      ...plan,
      steps: plan.steps.map((step) => ({ ...step, upstreamModel: "deepseek-nope" })),
    };
    const signal = new AbortController().signal;
    await expect(
      attemptPlan({ plan: unknownModel, policy, call, env, signal, deadlines, gate }),
    ).rejects.toMatchObject({
      status: 400,
    });
    expect(gate.entered).toBe(1);
    expect(gate.released).toHaveLength(1);
  });
});
