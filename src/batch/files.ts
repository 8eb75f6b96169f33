import { mintId } from "./ids";

/** Purposes of the files this router keeps: batch inputs the caller uploads, and what batches write. */
type FilePurpose = "batch" | "batch_output";

/** OpenAI's file object. */
export interface FileObject {
  id: string;
  object: "file";
  bytes: number;
  created_at: number;
  filename: string;
  purpose: FilePurpose;
  status: "processed";
  status_details: null;
  expires_at: number | null;
}

/** Batch files expire 30 days after upload, as OpenAI's do. */
const FILE_TTL_S = 30 * 24 * 3600;

/** R2 key of a file: the tenant is part of the key, so one tenant cannot name another's file. */
function keyOf(tenant: string, id: string): string {
  return `files/${tenant}/${id}`;
}

export async function putFile(
  bucket: R2Bucket,
  input: {
    tenant: string;
    filename: string;
    purpose: FilePurpose;
    content: string | ArrayBuffer;
    now: number;
  },
): Promise<FileObject> {
  const id = mintId("file-", input.now);
  const createdAt = Math.floor(input.now / 1000);
  const object = await bucket.put(keyOf(input.tenant, id), input.content, {
    httpMetadata: { contentType: "application/jsonl" },
    customMetadata: {
      filename: input.filename,
      purpose: input.purpose,
      createdAt: String(createdAt),
      expiresAt: String(createdAt + FILE_TTL_S),
    },
  });
  return toFileObject(id, object);
}

export async function headFile(bucket: R2Bucket, tenant: string, id: string): Promise<FileObject | null> {
  const object = await bucket.head(keyOf(tenant, id));
  return object ? toFileObject(id, object) : null;
}

export function readFile(bucket: R2Bucket, tenant: string, id: string): Promise<R2ObjectBody | null> {
  return bucket.get(keyOf(tenant, id));
}

export async function deleteFile(bucket: R2Bucket, tenant: string, id: string): Promise<boolean> {
  const key = keyOf(tenant, id);
  if (!(await bucket.head(key))) return false;
  await bucket.delete(key);
  return true;
}

/** Every file of the tenant, oldest first (ids sort by creation), up to `cap`. */
export async function listFiles(bucket: R2Bucket, tenant: string, cap: number): Promise<FileObject[]> {
  const prefix = keyOf(tenant, "");
  const files: FileObject[] = [];
  let cursor: string | undefined;
  do {
    const listed = await bucket.list({ prefix, cursor, include: ["customMetadata"] });
    for (const object of listed.objects) files.push(toFileObject(object.key.slice(prefix.length), object));
    cursor = listed.truncated && files.length < cap ? listed.cursor : undefined;
  } while (cursor);
  return files.slice(0, cap);
}

function toFileObject(id: string, object: R2Object): FileObject {
  const meta = object.customMetadata ?? {};
  return {
    id,
    object: "file",
    bytes: object.size,
    created_at: Number(meta.createdAt ?? Math.floor(object.uploaded.getTime() / 1000)),
    filename: meta.filename ?? id,
    purpose: meta.purpose === "batch_output" ? "batch_output" : "batch",
    status: "processed",
    status_details: null,
    expires_at: meta.expiresAt ? Number(meta.expiresAt) : null,
  };
}
