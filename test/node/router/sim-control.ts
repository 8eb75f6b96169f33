import { expect } from "vitest";

/** Changes the local stack's simulator (latency, answer sizes, faults) for the requests that follow. */
export async function configureSim(simUrl: string, patch: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${simUrl}/_sim/config`, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(patch),
  });
  expect(response.ok).toBe(true);
}
