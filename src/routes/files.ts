import { Hono } from "hono";
import { deleteFile, type FileObject, headFile, listFiles, putFile, readFile } from "../batch/files";
import { wellFormedId } from "../batch/ids";
import { describeLineErrors, parseBatchInput } from "../batch/validate";
import { servedModels } from "../classify/catalog";
import type { AppEnv } from "../env";
import { RouterError } from "../errors";

/** OpenAI's Files API for batch input (issue 15); each tenant sees only its own files. */
export const FILE_PATHS = ["/v1/files", "/v1/files/:id", "/v1/files/:id/content"] as const;

export const files = new Hono<AppEnv>();

/** Largest batch input accepted: the upload is parsed in memory, so it stays well under an isolate's 128 MB. */
const MAX_FILE_BYTES = 50 * 1024 * 1024;
/** Files listed at most, per request. */
const LIST_CAP = 10_000;

files.post("/v1/files", async (c) => {
  const declared = Number(c.req.header("content-length"));
  if (declared > MAX_FILE_BYTES) throw tooLarge();
  const form = await c.req.formData().catch((cause: unknown) => {
    throw new RouterError(
      "invalid_request",
      "Send the file as multipart/form-data with fields 'file' and 'purpose'.",
      { cause },
    );
  });
  const purpose = form.get("purpose");
  if (purpose !== "batch") {
    throw new RouterError("invalid_request", "This router accepts files with purpose 'batch' only.", {
      param: "purpose",
    });
  }
  const file = form.get("file");
  if (!(file instanceof File))
    throw new RouterError("invalid_request", "Missing the 'file' field.", { param: "file" });
  if (file.size > MAX_FILE_BYTES) throw tooLarge();
  const text = await file.text();
  const { errors } = parseBatchInput(text, servedModels(c.get("policy")));
  if (errors.length > 0)
    throw new RouterError("invalid_request", describeLineErrors(errors), { param: "file" });
  const object = await putFile(c.env.FILES, {
    tenant: c.get("tenant").id,
    filename: file.name || "batch.jsonl",
    purpose: "batch",
    content: text,
    now: Date.now(),
  });
  return c.json(object);
});

files.get("/v1/files", async (c) => {
  const limit = pageLimit(c.req.query("limit"), 10_000);
  const purpose = c.req.query("purpose");
  const after = c.req.query("after");
  let all = await listFiles(c.env.FILES, c.get("tenant").id, LIST_CAP);
  if (purpose) all = all.filter((file) => file.purpose === purpose);
  const ascending = c.req.query("order") === "asc";
  if (!ascending) all.reverse();
  if (after !== undefined && !wellFormedId(after, "file-"))
    throw new RouterError(
      "invalid_request",
      `'after' must be a file id; '${after.slice(0, 64)}' is not one.`,
      {
        param: "after",
      },
    );
  // Keyset on the id, which sorts by creation: a cursor whose file was deleted meanwhile still pages on.
  const past = (file: FileObject) => (ascending ? file.id > (after as string) : file.id < (after as string));
  const found = after ? all.findIndex(past) : 0;
  const start = found === -1 ? all.length : found;
  const data = all.slice(start, start + limit);
  return c.json({
    object: "list",
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: start + limit < all.length,
  });
});

files.get("/v1/files/:id", async (c) => {
  const id = c.req.param("id");
  const file = wellFormedId(id, "file-") ? await headFile(c.env.FILES, c.get("tenant").id, id) : null;
  if (!file) throw noSuchFile(id);
  return c.json(file);
});

files.get("/v1/files/:id/content", async (c) => {
  const id = c.req.param("id");
  const object = wellFormedId(id, "file-") ? await readFile(c.env.FILES, c.get("tenant").id, id) : null;
  if (!object) throw noSuchFile(id);
  return new Response(object.body, {
    headers: { "content-type": "application/jsonl", "content-length": String(object.size) },
  });
});

files.delete("/v1/files/:id", async (c) => {
  const id = c.req.param("id");
  const deleted = wellFormedId(id, "file-") && (await deleteFile(c.env.FILES, c.get("tenant").id, id));
  if (!deleted) throw noSuchFile(id);
  return c.json({ id, object: "file", deleted: true });
});

function noSuchFile(id: string): RouterError {
  return new RouterError("not_found", `No such File object: ${id}`, { param: "id" });
}

function tooLarge(): RouterError {
  return new RouterError("payload_too_large", `A batch file may be at most ${MAX_FILE_BYTES} bytes.`, {
    param: "file",
  });
}

/** `limit` as OpenAI's list endpoints take it: a whole number from 1 to `max`. */
export function pageLimit(value: string | undefined, max: number, fallback = 20): number {
  if (value === undefined || value === "") return fallback;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new RouterError("invalid_request", `'limit' must be a whole number from 1 to ${max}.`, {
      param: "limit",
    });
  }
  return limit;
}
