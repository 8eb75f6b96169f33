/**
 * `file-…` and `batch_…` ids, as OpenAI spells them: the creation time in hex, then 64 random bits, so
 * ids sort by creation (R2 lists keys in order) and cannot be guessed.
 */
export function mintId(prefix: "file-" | "batch_", now: number): string {
  const random = crypto.getRandomValues(new Uint8Array(8));
  const hex = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${prefix}${Math.floor(now).toString(16).padStart(12, "0")}${hex}`;
}

const ID_PATTERN = /^(file-|batch_)[0-9a-f]{28}$/;

/** Whether `id` could be one of ours; anything else is a 404 without touching storage. */
export function wellFormedId(id: string, prefix: "file-" | "batch_"): boolean {
  return id.startsWith(prefix) && ID_PATTERN.test(id);
}
