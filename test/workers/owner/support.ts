import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import OpenAI from "openai";
import { expect } from "vitest";
import worker from "../../../src/index";
import { ACME_KEY } from "../../fixtures/tenants";
import { eventually, singlePoolPolicy } from "../helpers";

/** An openai client whose router has the simulator at `baseUrl` as upstream and `vars` over its own. */
export function clientWith(
  baseUrl: string,
  vars: Partial<Env> & Record<string, string> = {},
  key: string = ACME_KEY,
): OpenAI {
  return new OpenAI({
    apiKey: key,
    baseURL: "http://router.test/v1",
    maxRetries: 0,
    fetch: async (input, init) =>
      worker.fetch(
        new Request(input, init),
        { ...env, DEEPSEEK_BASE_URL: baseUrl, ...vars },
        createExecutionContext(),
      ),
  });
}

/** Polls `retrieve` as a client would, until the response is no longer queued or running. */
export async function untilDone(openai: OpenAI, id: string): Promise<OpenAI.Responses.Response> {
  let response: OpenAI.Responses.Response | undefined;
  await eventually(async () => {
    response = await openai.responses.retrieve(id);
    expect(["queued", "in_progress"]).not.toContain(response.status);
  }, 15_000);
  if (!response) throw new Error("never finished");
  return response;
}

/**
 * A one-slot pool of its own, its only slot held by a plain Responses stream that has begun: what an
 * owned call must queue behind. `holder` is that stream; abort it to free the slot.
 */
export async function heldPool(simBaseUrl: string, prefix: string) {
  const pool = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  const policy = singlePoolPolicy(
    simBaseUrl,
    { concurrency: 1, admission: { leaseBlocks: false, adaptive: false } },
    pool,
  );
  const openai = clientWith(simBaseUrl, { ROUTER_POLICY: policy });
  const gate = env.POOL_GATE.getByName(`${pool}#0`);
  const holder = await openai.responses.create({
    model: "deepseek-v4-flash",
    input: "Hold the slot.",
    reasoning: { effort: "none" },
    stream: true,
  });
  await holder[Symbol.asyncIterator]().next();
  return { openai, gate, holder };
}
