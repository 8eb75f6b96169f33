import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { callRouter, errorOf } from "../helpers";
import { batchFile, chatLine, openaiClient } from "./support";

describe("bad input", () => {
  it("reports every bad line of an upload by its line number", async () => {
    const openai = openaiClient();
    const lines = [
      chatLine("ok-1", "fine"),
      "{not json",
      { custom_id: "no-body", method: "POST", url: "/v1/chat/completions" },
      chatLine("ok-1", "same id again"),
      {
        ...chatLine("bad-model", "hi"),
        body: { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] },
      },
      { ...chatLine("streams", "hi"), body: { ...chatLine("s", "hi").body, stream: true } },
      { ...chatLine("wrong-url", "hi"), url: "/v1/embeddings" },
    ];
    const error = await openai.files
      .create({ file: batchFile(lines), purpose: "batch" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const message = (error as InstanceType<typeof OpenAI.BadRequestError>).message;
    expect(message).toContain("6 invalid lines");
    expect(message).toContain("line 2: This line is not parseable as valid JSON;");
    expect(message).toContain("line 3: Invalid value for 'body'");
    expect(message).toContain("line 4: custom_id 'ok-1' is used twice;");
    expect(message).not.toContain("..");
    expect(message).toContain("line 5: Model 'gpt-4o' is not served by this router;");
    expect(message).toContain("line 6: Batch requests cannot stream");
    expect(message).toContain("line 7: Invalid value for 'url'");
  });

  it("refuses a line whose body nests deeper than a request may, at upload, not when it runs", async () => {
    let deep: unknown = [];
    for (let i = 0; i < 200; i++) deep = [deep];
    const line = { ...chatLine("deep", "hi"), body: { ...chatLine("deep", "hi").body, extra: deep } };
    const error = await openaiClient()
      .files.create({ file: batchFile([line]), purpose: "batch" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const message = (error as InstanceType<typeof OpenAI.BadRequestError>).message;
    expect(message).toContain("line 1: The request body nests JSON deeper than 64 levels");
    expect(message).not.toContain("..");
  });

  it("refuses an empty file, another purpose, and a missing file field", async () => {
    const openai = openaiClient();
    await expect(openai.files.create({ file: batchFile([]), purpose: "batch" })).rejects.toThrow(
      "The batch input file is not valid: The file has no requests.",
    );
    await expect(
      openai.files.create({ file: batchFile([chatLine("a", "b")]), purpose: "assistants" }),
    ).rejects.toThrow("purpose 'batch' only");
    const form = new FormData();
    form.set("purpose", "batch");
    const response = await callRouter("/v1/files", { method: "POST", body: form });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).param).toBe("file");
  });

  it("fails a batch whose lines do not match its endpoint, with OpenAI's error list", async () => {
    const openai = openaiClient();
    const file = await openai.files.create({ file: batchFile([chatLine("a", "hi")]), purpose: "batch" });
    const batch = await openai.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/completions",
      completion_window: "24h",
    });
    expect(batch.status).toBe("failed");
    expect(batch.failed_at).not.toBeNull();
    expect(batch.errors?.data?.[0]).toMatchObject({ code: "url_mismatch", line: 1 });
  });

  it("refuses an unknown schedule, window or file with the error envelope", async () => {
    const openai = openaiClient();
    const file = await openai.files.create({ file: batchFile([chatLine("a", "hi")]), purpose: "batch" });
    const create = (body: Record<string, unknown>) =>
      callRouter("/v1/batches", {
        json: { input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h", ...body },
      });
    const schedule = await create({ metadata: { schedule: "tomorrow" } });
    expect(schedule.status).toBe(400);
    expect((await errorOf(schedule)).param).toBe("metadata.schedule");
    expect((await create({ completion_window: "48h" })).status).toBe(400);
    const missing = await create({ input_file_id: "file-00000000000000000000000000" });
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).message).toContain("No such File object");
    expect((await callRouter("/v1/batches/batch_nope")).status).toBe(404);
    expect((await callRouter("/v1/files/file-nope/content")).status).toBe(404);
  });
});
