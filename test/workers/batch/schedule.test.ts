import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { nextOffPeak, planStart } from "../../../src/batch/schedule";
import { DEEPSEEK_PRICES } from "../../../src/config/prices";
import { GLOBEX_KEY } from "../../fixtures/tenants";
import {
  capturedBatches,
  chatLine,
  MONDAY_OFF_PEAK,
  MONDAY_PEAK,
  openaiClient,
  sentLines,
  submitBatch,
} from "./support";

const PRO = [DEEPSEEK_PRICES["deepseek-v4-pro"] ?? []];
const DAY_MS = 24 * 3_600_000;
const at = (iso: string) => Date.parse(iso);

describe("the next off-peak moment of a price table", () => {
  it("is now when off-peak, else the end of the peak window", () => {
    expect(nextOffPeak(PRO, at("2026-11-30T05:00:00Z"))).toBe(at("2026-11-30T05:00:00Z"));
    expect(nextOffPeak(PRO, at("2026-11-30T01:30:00Z"))).toBe(at("2026-11-30T04:00:00Z"));
    expect(nextOffPeak(PRO, at("2026-11-30T09:59:00Z"))).toBe(at("2026-11-30T10:00:00Z"));
  });

  it("treats the weekend (in Beijing time) as off-peak all day", () => {
    // Saturday 02:00 UTC is Saturday 10:00 in Beijing: off-peak although inside the weekday peak hours.
    expect(nextOffPeak(PRO, at("2026-11-28T02:00:00Z"))).toBe(at("2026-11-28T02:00:00Z"));
  });

  it("runs now when asked, or when waiting would miss the completion window", () => {
    const base = { tables: PRO, now: MONDAY_PEAK, expiresAt: MONDAY_PEAK + DAY_MS };
    expect(planStart({ ...base, schedule: "now", lineCount: 10 })).toEqual({
      startAt: MONDAY_PEAK,
      reason: "requested_now",
    });
    expect(planStart({ ...base, schedule: "off-peak", lineCount: 10 })).toEqual({
      startAt: MONDAY_OFF_PEAK,
      reason: "next_off_peak",
    });
    // 80,000 lines are allowed 23 h of running: starting at 04:00 would end past the window.
    expect(planStart({ ...base, schedule: "off-peak", lineCount: 80_000 })).toEqual({
      startAt: MONDAY_PEAK,
      reason: "window_too_short",
    });
  });
});

describe("a batch submitted at peak time", () => {
  let batches: Awaited<ReturnType<typeof capturedBatches>>;
  beforeAll(async () => {
    batches = await capturedBatches("globex", MONDAY_PEAK);
  });

  it("waits, showing when it will start, and starts at the next off-peak boundary", async () => {
    const openai = openaiClient(GLOBEX_KEY);
    const batch = await submitBatch(openai, [chatLine("a", "first"), chatLine("b", "second")]);
    const waiting = batch as typeof batch & {
      scheduled_start_at: number;
      schedule: string;
      schedule_reason: string;
    };
    expect(waiting.status).toBe("validating");
    expect(waiting.schedule).toBe("off-peak");
    expect(waiting.scheduled_start_at).toBe(MONDAY_OFF_PEAK / 1000);
    expect(waiting.schedule_reason).toBe("next_off_peak");
    expect(waiting.expires_at).toBe((MONDAY_PEAK + DAY_MS) / 1000);

    const stub = env.BATCHES.getByName("globex");
    // An alarm before the boundary (the clock one minute short) starts nothing.
    await batches.setClock(MONDAY_OFF_PEAK - 60_000);
    await runDurableObjectAlarm(stub);
    expect(batches.sent.filter((m) => m.batchId === batch.id)).toHaveLength(0);
    expect((await openai.batches.retrieve(batch.id)).status).toBe("validating");

    await batches.setClock(MONDAY_OFF_PEAK);
    await runDurableObjectAlarm(stub);
    const started = await openai.batches.retrieve(batch.id);
    expect(started.status).toBe("in_progress");
    expect(started.in_progress_at).toBe(MONDAY_OFF_PEAK / 1000);
    expect(batches.sent.filter((m) => m.batchId === batch.id).map((m) => m.index)).toEqual([0, 1]);
  });

  it('starts at once with metadata {"schedule": "now"}', async () => {
    await batches.setClock(MONDAY_PEAK);
    const openai = openaiClient(GLOBEX_KEY);
    const batch = await submitBatch(openai, [chatLine("a", "urgent")], { schedule: "now" });
    expect((batch as typeof batch & { scheduled_start_at: number }).scheduled_start_at).toBe(
      MONDAY_PEAK / 1000,
    );
    await sentLines(batches.sent, batch.id, 1);
    expect((await openai.batches.retrieve(batch.id)).status).toBe("in_progress");
  });

  it("expires unrun lines at the end of its window, each reported as batch_expired", async () => {
    await batches.setClock(MONDAY_PEAK);
    const openai = openaiClient(GLOBEX_KEY);
    const batch = await submitBatch(openai, [chatLine("x", "late"), chatLine("y", "later")]);
    await batches.setClock(MONDAY_PEAK + DAY_MS);
    await runDurableObjectAlarm(env.BATCHES.getByName("globex"));
    const expired = await openai.batches.retrieve(batch.id);
    expect(expired.status).toBe("expired");
    expect(expired.request_counts).toEqual({ total: 2, completed: 0, failed: 2 });
    const errors = await (await openai.files.content(expired.error_file_id as string)).text();
    expect(errors).toContain('"code":"batch_expired"');
  });
});
