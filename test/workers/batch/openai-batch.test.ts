import { describe, expect, it } from "vitest";
import { GLOBEX_KEY } from "../../fixtures/tenants";
import { eventually } from "../helpers";
import { batchFile, byCustomId, chatLine, openaiClient } from "./support";

describe("the official openai client runs a batch end to end", () => {
  it("files.create → batches.create → batches.retrieve until done → files.content", async () => {
    const openai = openaiClient();
    const lines = Array.from({ length: 6 }, (_, i) =>
      chatLine(`req-${i}`, `Batch question ${i} ${crypto.randomUUID()}`),
    );
    const file = await openai.files.create({ file: batchFile(lines), purpose: "batch" });
    expect(file).toMatchObject({ object: "file", purpose: "batch", filename: "input.jsonl" });
    expect(file.id).toMatch(/^file-/);

    const created = await openai.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { schedule: "now", job: "e2e" },
    });
    expect(created.status).toBe("validating");
    expect(created.request_counts).toEqual({ total: 6, completed: 0, failed: 0 });

    let batch = created;
    await eventually(async () => {
      batch = await openai.batches.retrieve(created.id);
      expect(batch.status).toBe("completed");
    }, 15_000);
    expect(batch.request_counts).toEqual({ total: 6, completed: 6, failed: 0 });
    expect(batch.metadata).toEqual({ schedule: "now", job: "e2e" });
    expect(batch.output_file_id).toMatch(/^file-/);
    expect(batch.error_file_id).toBeNull();
    expect(batch.usage?.output_tokens).toBeGreaterThan(0);
    const cost = (batch as unknown as { cost: { usd: number; at_peak_usd: number; saved_usd: number } }).cost;
    expect(cost.usd).toBeGreaterThan(0);
    expect(cost.at_peak_usd).toBeGreaterThanOrEqual(cost.usd);
    expect(cost.saved_usd).toBeCloseTo(cost.at_peak_usd - cost.usd, 8);

    const output = byCustomId(await (await openai.files.content(batch.output_file_id as string)).text());
    expect([...output.keys()].sort()).toEqual(lines.map((l) => l.custom_id).sort());
    const first = output.get("req-0") as {
      response: { status_code: number; body: { object: string } };
      error: unknown;
    };
    expect(first.response.status_code).toBe(200);
    expect(first.response.body.object).toBe("chat.completion");
    expect(first.error).toBeNull();

    const outputFile = await openai.files.retrieve(batch.output_file_id as string);
    expect(outputFile.purpose).toBe("batch_output");
    const listed = await openai.batches.list();
    expect(listed.data.map((b) => b.id)).toContain(created.id);
  });

  it("keeps each tenant's files and batches to itself", async () => {
    const acme = openaiClient();
    const file = await acme.files.create({ file: batchFile([chatLine("a", "hello")]), purpose: "batch" });
    const globex = openaiClient(GLOBEX_KEY);
    await expect(globex.files.retrieve(file.id)).rejects.toMatchObject({ status: 404 });
    await expect(globex.files.content(file.id)).rejects.toMatchObject({ status: 404 });
    await expect(
      globex.batches.create({
        input_file_id: file.id,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
      }),
    ).rejects.toMatchObject({ status: 404 });
    const batch = await acme.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    await expect(globex.batches.retrieve(batch.id)).rejects.toMatchObject({ status: 404 });
    await expect(globex.batches.cancel(batch.id)).rejects.toMatchObject({ status: 404 });
    expect((await globex.batches.list()).data.map((b) => b.id)).not.toContain(batch.id);
    const globexFiles = await globex.files.list();
    expect(globexFiles.data.map((f) => f.id)).not.toContain(file.id);
  });

  it("pages files by cursor, past a cursor whose file was deleted, and refuses a cursor that is no file id", async () => {
    const openai = openaiClient();
    for (const name of ["a", "b", "c"])
      await openai.files.create({ file: batchFile([chatLine(name, "hello")]), purpose: "batch" });
    const all = (await openai.files.list({ limit: 10_000 })).data.map((file) => file.id);
    const paged: string[] = [];
    for await (const file of openai.files.list({ limit: 2 })) paged.push(file.id);
    expect(paged).toEqual(all);
    const [, gone, next] = all;
    await openai.files.delete(gone as string);
    const after = await openai.files.list({ limit: 1, after: gone as string });
    expect(after.data.map((file) => file.id)).toEqual([next]);
    await expect(openai.files.list({ after: "file-bogus" })).rejects.toMatchObject({
      status: 400,
      param: "after",
    });
  });
});
