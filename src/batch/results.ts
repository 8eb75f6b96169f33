import { type FileObject, putFile } from "./files";
import type { BatchRecord } from "./types";
import { unansweredLine } from "./wire";

/** A line as the batch's files need it. */
export type ResultRow = {
  idx: number;
  custom_id: string;
  state: string;
  result: string | null;
  /** Where a result too large for the line table waits in R2. */
  spilled_key: string | null;
  ok: number | null;
};

/**
 * Writes a finished batch's output file (200 answers) and error file (other answers, and one line per
 * request that never ran), in input order, each custom_id exactly once; then drops spilled results.
 * A file with no lines is not written (its id stays null, as OpenAI's).
 */
export async function writeResultFiles(
  bucket: R2Bucket,
  args: {
    record: BatchRecord;
    rows: readonly ResultRow[];
    ending: "completed" | "cancelled" | "expired";
    now: number;
  },
): Promise<[FileObject | null, FileObject | null]> {
  const { record, rows } = args;
  const output: string[] = [];
  const errors: string[] = [];
  for (const row of rows) {
    const result =
      row.result ?? (row.spilled_key ? await (await bucket.get(row.spilled_key))?.text() : undefined);
    if (row.state === "done" && result !== undefined) (row.ok === 1 ? output : errors).push(result);
    else
      errors.push(
        unansweredLine(
          record.id,
          row.idx,
          row.custom_id,
          args.ending === "expired" ? "expired" : "cancelled",
        ),
      );
  }
  const write = (lines: string[], suffix: string) =>
    lines.length === 0
      ? null
      : putFile(bucket, {
          tenant: record.tenant,
          filename: `${record.id}_${suffix}.jsonl`,
          purpose: "batch_output",
          content: `${lines.join("\n")}\n`,
          now: args.now,
        });
  const files = await Promise.all([write(output, "output"), write(errors, "error")]);
  const spilled = rows.flatMap((row) => (row.spilled_key ? [row.spilled_key] : []));
  if (spilled.length > 0) await bucket.delete(spilled);
  return files;
}
