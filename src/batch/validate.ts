import { assertNestingWithin } from "../middleware/json-depth";
import { chatRequest } from "../schema/chat";
import { fimRequest } from "../schema/fim";
import * as z from "../zod";

/** The endpoints a batch line may call, as OpenAI names them. FIM is DeepSeek's `/beta/completions`. */
export const BATCH_ENDPOINTS = ["/v1/chat/completions", "/v1/completions"] as const;
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];

/** OpenAI's caps on one batch input file. */
const MAX_LINES = 50_000;
const MAX_CUSTOM_ID = 512;

/** One valid input line. `body` is kept as the caller wrote it: it is replayed, not re-encoded. */
export interface BatchLine {
  /** Position among the valid lines, from 0: the line's id within its batch. */
  index: number;
  /** Line number in the file, from 1. */
  line: number;
  customId: string;
  url: BatchEndpoint;
  model: string;
  body: string;
}

/** A problem with the input, in OpenAI's `errors.data` shape; `line` is 1-based. */
export interface LineError {
  code: string;
  line: number | null;
  message: string;
  param: string | null;
}

const envelope = z.object({
  custom_id: z.string().check(z.minLength(1), z.maxLength(MAX_CUSTOM_ID)),
  method: z.literal("POST"),
  url: z.enum(BATCH_ENDPOINTS),
  body: z.record(z.string(), z.unknown()),
});

/**
 * Parses and checks a JSONL batch input: every line must be a request to a batch endpoint with a
 * unique `custom_id` and a body the router would accept, non-streamed, for a model it serves. Blank
 * lines are skipped (a trailing newline is normal). Pure.
 */
export function parseBatchInput(
  text: string,
  servedModels: ReadonlySet<string>,
): { lines: BatchLine[]; errors: LineError[] } {
  const lines: BatchLine[] = [];
  const errors: LineError[] = [];
  const seen = new Set<string>();
  const rows = text.split("\n");
  rows.forEach((row, i) => {
    if (row.trim() === "") return;
    const result = parseLine(row, i + 1, servedModels);
    if ("error" in result) {
      errors.push(result.error);
    } else if (seen.has(result.line.customId)) {
      const message = `custom_id '${result.line.customId}' is used twice.`;
      errors.push(lineError(i + 1, "duplicate_custom_id", message, "custom_id"));
    } else {
      seen.add(result.line.customId);
      lines.push({ ...result.line, index: lines.length, line: i + 1 });
    }
  });
  if (lines.length === 0 && errors.length === 0)
    errors.push(lineError(null, "empty_file", "The file has no requests.", null));
  if (lines.length > MAX_LINES) {
    errors.push(
      lineError(
        null,
        "too_many_tasks",
        `A batch holds at most ${MAX_LINES} requests; this file has ${lines.length}.`,
        null,
      ),
    );
  }
  return { lines, errors };
}

function parseLine(
  row: string,
  line: number,
  servedModels: ReadonlySet<string>,
): { line: Omit<BatchLine, "index" | "line"> } | { error: LineError } {
  let json: unknown;
  try {
    json = JSON.parse(row);
  } catch {
    return { error: lineError(line, "invalid_json_line", "This line is not parseable as valid JSON.", null) };
  }
  const parsed = envelope.safeParse(json);
  if (!parsed.success) return { error: issueError(line, parsed.error.issues[0], []) };
  const { custom_id: customId, url, body } = parsed.data;
  const tooDeep = nestingError(body, line);
  if (tooDeep) return { error: tooDeep };
  const schema = url === "/v1/completions" ? fimRequest : chatRequest;
  const checked = schema.safeParse(body);
  if (!checked.success) return { error: issueError(line, checked.error.issues[0], ["body"]) };
  if (checked.data.stream === true) {
    return {
      error: lineError(
        line,
        "invalid_request",
        "Batch requests cannot stream: remove 'stream'.",
        "body.stream",
      ),
    };
  }
  if (!servedModels.has(checked.data.model)) {
    return {
      error: lineError(
        line,
        "model_not_found",
        `Model '${checked.data.model}' is not served by this router.`,
        "body.model",
      ),
    };
  }
  return { line: { customId, url, model: checked.data.model, body: JSON.stringify(body) } };
}

/** The line's body is checked as a request body is (the same depth limit), so it cannot fail only when it runs. */
function nestingError(body: unknown, line: number): LineError | undefined {
  try {
    assertNestingWithin(body);
    return undefined;
  } catch (error) {
    return lineError(line, "invalid_request", (error as Error).message, "body");
  }
}

function issueError(line: number, issue: z.core.$ZodIssue | undefined, prefix: PropertyKey[]): LineError {
  const path = [...prefix, ...(issue?.path ?? [])].map(String).join(".");
  const message = issue
    ? path
      ? `Invalid value for '${path}': ${issue.message}`
      : issue.message
    : "Invalid request.";
  return lineError(line, "invalid_request", message, path || null);
}

function lineError(line: number | null, code: string, message: string, param: string | null): LineError {
  return { code, line, message, param };
}

/** A 400's message naming the first bad lines, so a caller can fix the file without another round trip. */
export function describeLineErrors(errors: readonly LineError[], shown = 10): string {
  const listed = errors
    .slice(0, shown)
    .map((e) => {
      // Each message is a sentence of its own; listed, they share the summary's one full stop.
      const text = e.message.replace(/\.$/, "");
      return e.line === null ? text : `line ${e.line}: ${text}`;
    })
    .join("; ");
  const more = errors.length > shown ? `; and ${errors.length - shown} more` : "";
  const badLines = errors.filter((e) => e.line !== null).length;
  const summary =
    badLines === 0
      ? "The batch input file is not valid"
      : `The batch input file has ${badLines} invalid line${badLines === 1 ? "" : "s"}`;
  return `${summary}: ${listed}${more}.`;
}
