import { describe, expect, it } from "vitest";
import { createSim, type SimInstance, singlePoolPolicy, slowFirstOneSlot } from "../helpers";

/**
 * OpenAI numbers every Responses stream event, `error` included (`ResponseErrorEvent.sequence_number`):
 * the in-band error the router appends after a failure continues the numbering of what the client got.
 */
interface Event {
  type: string;
  sequence_number?: number;
  code?: string;
}

function eventsOf(text: string): Event[] {
  return text
    .split("\n\n")
    .map((block) => block.split("\n").find((line) => line.startsWith("data: ")))
    .filter((line): line is string => line !== undefined)
    .map((line) => JSON.parse(line.slice(6)) as Event);
}

function streamed(sim: SimInstance, policy: string, headers: Record<string, string> = {}): Promise<Response> {
  const json = { model: "deepseek-v4-flash", input: `Stream at ${sim.baseUrl}`, stream: true };
  return sim.call("/v1/responses", { json, headers }, { ROUTER_POLICY: policy });
}

describe("the Responses in-band error event", () => {
  it("after a cut mid-stream, is numbered next after the last event relayed", async () => {
    const sim = await createSim({ faultScript: [{ kind: "cutMidStream", afterChunks: 5 }] });
    const response = await streamed(sim, singlePoolPolicy(sim.baseUrl));
    expect(response.status).toBe(200);
    const events = eventsOf(await response.text());
    const error = events.at(-1) as Event;
    expect(error).toMatchObject({ type: "error", code: "upstream_error" });
    expect(events.length).toBeGreaterThan(1);
    expect(error.sequence_number).toBe((events.at(-2) as Event).sequence_number! + 1);
  });

  it("on a stream shed while queued after its commit, is the stream's first event, number 0", async () => {
    const { sim, policy } = await slowFirstOneSlot();
    const holder = await streamed(sim, policy);
    const reader = (holder.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const response = await streamed(sim, policy, { "x-router-max-wait-ms": "1500" });
    expect(response.status).toBe(200);
    const events = eventsOf(await response.text());
    expect(events).toEqual([
      expect.objectContaining({ type: "error", code: "queue_timeout", sequence_number: 0 }),
    ]);
    await reader.cancel();
  });
});
