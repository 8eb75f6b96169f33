import { fnv1a } from "./hash";

/**
 * DeepSeek's context cache as documented up to V3.2: per account, prefixes stored in 64-token units,
 * a hit is the longest previously seen prefix rounded down to 64 tokens (deepseek-api.md §7.2).
 */

export const CACHE_UNIT = 64;
const MAX_KEYS_PER_SCOPE = 250_000;

/** Hash keys of every 64-token prefix of `tokens` (key i covers the first (i + 1) * 64 tokens). */
export function prefixKeys(tokens: readonly string[]): string[] {
  const keys: string[] = [];
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < tokens.length; i++) {
    const t = `${tokens[i]}\u0001`;
    a = fnv1a(t, a);
    b = fnv1a(t, b ^ 0x5bd1e995);
    if ((i + 1) % CACHE_UNIT === 0) keys.push(`${a.toString(36)}.${b.toString(36)}`);
  }
  return keys;
}

export class PrefixCache {
  readonly #scopes = new Map<string, Map<string, number>>();

  /** Tokens of the longest stored prefix that is at least `delayMs` old. */
  hitTokens(scope: string, keys: readonly string[], now: number, delayMs: number): number {
    const stored = this.#scopes.get(scope);
    if (!stored) return 0;
    for (let i = keys.length - 1; i >= 0; i--) {
      const at = stored.get(keys[i] ?? "");
      if (at !== undefined && now - at >= delayMs) return (i + 1) * CACHE_UNIT;
    }
    return 0;
  }

  remember(scope: string, keys: readonly string[], now: number): void {
    const stored = this.#scopes.get(scope) ?? new Map<string, number>();
    this.#scopes.set(scope, stored);
    for (const key of keys) {
      if (stored.has(key)) continue;
      stored.set(key, now);
      if (stored.size > MAX_KEYS_PER_SCOPE) stored.delete(stored.keys().next().value ?? "");
    }
  }

  clear(): void {
    this.#scopes.clear();
  }
}
