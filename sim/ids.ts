import { randomBase62, randomHex, randomUuid, stableHex } from "./hash";
import type { Era } from "./options";

/** Identifier formats by era (deepseek-api.md §4.2, §4.3, §10 item 12). */

/** `x-ds-trace-id`: 32 hex. */
export const traceId = (): string => randomHex(32);

/** Completion ids are UUIDv4 in every era. */
export const completionId = (): string => randomUuid();

/** `call_0_<uuid>` before V4, `call_00_<24 base62>` since (length as in the recorded fixture). */
export function toolCallId(era: Era, index: number): string {
  if (era === "legacy") return `call_${index}_${randomUuid()}`;
  return `call_${String(index).padStart(2, "0")}_${randomBase62(24)}`;
}

/** Stable per deployment (here: per era and seed), like the real fingerprints. */
export function systemFingerprint(era: Era, seed: number): string {
  const hex = stableHex(`${era}:${seed}`, 32);
  return era === "legacy" ? `fp_${hex.slice(0, 10)}_prod0623_fp8_kvcache` : hex;
}
