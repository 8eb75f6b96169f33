import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { parseCacheId } from "../../../src/cache/key";
import { entryKvKey } from "../../../src/cache/store";
import { eventually } from "../helpers";

/** A streamed answer's entry is written in waitUntil after its last byte: wait until KV has it. */
export async function storedFrom(response: Response): Promise<void> {
  const key = response.headers.get("x-router-cache-key");
  expect(key).toBeTruthy();
  const id = parseCacheId(key as string);
  expect(id).toBeDefined();
  await eventually(async () => {
    expect(await env.CACHE.get(entryKvKey(id!))).not.toBeNull();
  });
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

let prompts = 0;
/** A prompt no other test in the file uses: KV and the Cache API are shared within a test file. */
export function uniquePrompt(what = "Tell me about caching"): string {
  prompts++;
  return `${what} (#${prompts}-${crypto.randomUUID().slice(0, 8)}).`;
}
