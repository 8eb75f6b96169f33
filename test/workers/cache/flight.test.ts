import { describe, expect, it } from "vitest";
import { Flight } from "../../../src/cache/flight";

const SERVED_BY = { model: "deepseek-v4-flash", pool: "deepseek-flash", target: "deepseek" };

/** A flight whose answer is flowing, and its leader's caller, who has not left yet. */
function answeringFlight(): { flight: Flight; departure: AbortController } {
  const flight = new Flight(Date.now() + 60_000);
  flight.answering("stream", SERVED_BY);
  return { flight, departure: new AbortController() };
}

function aborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(signal.reason)));
}

describe("the leader's upstream signal", () => {
  it("stops the upstream when the leader's caller leaves and nobody follows", () => {
    const { flight, departure } = answeringFlight();
    const upstream = flight.upstreamSignal(departure.signal, 60_000);
    departure.abort("left");
    expect(upstream.aborted).toBe(true);
    expect(upstream.reason).toBe("left");
  });

  it("keeps the upstream going for a follower, and stops it when the last follower stops", async () => {
    const { flight, departure } = answeringFlight();
    const upstream = flight.upstreamSignal(departure.signal, 60_000);
    const stopOne = flight.read();
    const stopTwo = flight.read();
    departure.abort("left");
    expect(upstream.aborted).toBe(false);
    stopOne();
    await Promise.resolve();
    expect(upstream.aborted).toBe(false);
    stopTwo();
    expect(await aborted(upstream)).toBe("left");
  });

  it("stops the upstream once the cap has passed, though a follower still reads", async () => {
    const { flight, departure } = answeringFlight();
    const upstream = flight.upstreamSignal(departure.signal, 50);
    flight.read();
    departure.abort("left");
    expect(upstream.aborted).toBe(false);
    expect(await aborted(upstream)).toBe("left");
    expect(flight.followed).toBe(true);
  });

  it("goes by the caller's departure alone before the answer flows: a pending flight is not followed", () => {
    const flight = new Flight(Date.now() + 60_000);
    const departure = new AbortController();
    const upstream = flight.upstreamSignal(departure.signal, 60_000);
    flight.read();
    departure.abort("left");
    expect(upstream.aborted).toBe(true);
  });
});
