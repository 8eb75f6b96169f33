import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CompletionRecord } from "../../../src/observe/log";
import { chatBody, createSim, type SimInstance, singlePoolPolicy } from "../helpers";
import { collectCompletionLogs } from "./support";

const CHAT = "/v1/chat/completions";
const NO_RETRY = { max: 0, baseMs: 1, capMs: 2, budgetRatio: 1 };

let logged: CompletionRecord[] = [];

beforeEach(() => {
  logged = [];
  collectCompletionLogs(logged);
});
afterEach(() => vi.restoreAllMocks());

/** One answered request and one the upstream fails (503, not retried), with `COMPLETION_LOGS` as given. */
async function answeredAndFailed(mode: string | undefined): Promise<{ answered: string; failed: string }> {
  const sim: SimInstance = await createSim({
    faultScript: [{ kind: "none" }, { kind: "status", status: 503 }],
  });
  const vars = {
    ROUTER_POLICY: singlePoolPolicy(sim.baseUrl, { retries: NO_RETRY }),
    ...(mode === undefined ? {} : { COMPLETION_LOGS: mode }),
  };
  const ids = { answered: `log-ok-${crypto.randomUUID()}`, failed: `log-503-${crypto.randomUUID()}` };
  const ok = await sim.call(CHAT, { json: chatBody(), headers: { "x-request-id": ids.answered } }, vars);
  expect(ok.status).toBe(200);
  await ok.text();
  const failed = await sim.call(CHAT, { json: chatBody(), headers: { "x-request-id": ids.failed } }, vars);
  expect(failed.status).toBeGreaterThanOrEqual(500);
  await failed.text();
  return ids;
}

const loggedIds = () => logged.map((record) => record.requestId);

describe("the completion log line (COMPLETION_LOGS)", () => {
  it("is written for every request by default, with its status and outcome", async () => {
    const { answered, failed } = await answeredAndFailed(undefined);
    expect(loggedIds()).toEqual([answered, failed]);
    expect(logged[0]).toMatchObject({ status: 200, outcome: "complete" });
    expect(logged[1]?.status).toBeGreaterThanOrEqual(500);
  });

  it("'failures' logs only the requests that did not end complete with a 2xx", async () => {
    const { failed } = await answeredAndFailed("failures");
    expect(loggedIds()).toEqual([failed]);
  });

  it("'off' logs none", async () => {
    await answeredAndFailed("off");
    expect(logged).toEqual([]);
  });
});
