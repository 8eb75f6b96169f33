import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type OpenAI from "openai";
import { expect } from "vitest";
import type { TenantBatches } from "../../../src/batch/tenant-batches";
import type { LineMessage } from "../../../src/batch/types";
import { eventually } from "../helpers";

export { openaiClient } from "../helpers";

/** Monday 2026-11-30 02:00 UTC: peak (01-04 UTC); the next off-peak moment is 04:00 UTC. */
export const MONDAY_PEAK = Date.parse("2026-11-30T02:00:00Z");
export const MONDAY_OFF_PEAK = Date.parse("2026-11-30T04:00:00Z");

export function chatLine(customId: string, content: string, extra: Record<string, unknown> = {}) {
  return {
    custom_id: customId,
    method: "POST",
    url: "/v1/chat/completions",
    body: {
      model: "deepseek-v4-flash",
      messages: [{ role: "user", content }],
      thinking: { type: "disabled" },
      max_tokens: 40,
      ...extra,
    },
  };
}

export function jsonl(lines: readonly unknown[]): string {
  return `${lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n")}\n`;
}

export function batchFile(lines: readonly unknown[], name = "input.jsonl"): File {
  return new File([jsonl(lines)], name, { type: "application/jsonl" });
}

/** Uploads `lines` and creates a chat batch from them with `metadata`, as a client would. */
export async function submitBatch(
  openai: OpenAI,
  lines: readonly unknown[],
  metadata?: Record<string, string>,
) {
  const file = await openai.files.create({ file: batchFile(lines), purpose: "batch" });
  return openai.batches.create({
    input_file_id: file.id,
    endpoint: "/v1/chat/completions",
    completion_window: "24h",
    ...(metadata ? { metadata } : {}),
  });
}

/** The line messages a batch object sent for `batchId`, once all `count` are there, in line order. */
export async function sentLines(
  sent: readonly LineMessage[],
  batchId: string,
  count: number,
): Promise<LineMessage[]> {
  let messages: LineMessage[] = [];
  await eventually(async () => {
    messages = sent.filter((m) => m.batchId === batchId);
    expect(messages).toHaveLength(count);
  });
  return messages.sort((a, b) => a.index - b.index);
}

/** The tenant's batch object, with its clock set and its line messages captured instead of queued. */
export async function capturedBatches(
  tenant: string,
  now: number,
): Promise<{ sent: LineMessage[]; setClock(at: number): Promise<void> }> {
  const sent: LineMessage[] = [];
  const stub = env.BATCHES.getByName(tenant);
  await runInDurableObject(stub, (instance: TenantBatches) => {
    instance.clock = () => now;
    instance.send = async (messages) => {
      sent.push(...messages);
    };
  });
  return {
    sent,
    async setClock(at) {
      await runInDurableObject(stub, (instance: TenantBatches) => {
        instance.clock = () => at;
      });
    },
  };
}

/** Output or error file lines, keyed by custom_id. */
export function byCustomId(text: string): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const row of text.split("\n").filter((r) => r.trim() !== "")) {
    const line = JSON.parse(row) as Record<string, unknown>;
    if (out.has(String(line.custom_id))) throw new Error(`custom_id ${String(line.custom_id)} appears twice`);
    out.set(String(line.custom_id), line);
  }
  return out;
}
