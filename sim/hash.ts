/** 32-bit FNV-1a over UTF-16 code units; `basis` lets callers chain or derive independent lanes. */
export function fnv1a(text: string, basis = 0x811c9dc5): number {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A small seeded PRNG (mulberry32). */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
}

export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => (max <= min ? min : min + Math.floor(next() * (max - min + 1))),
    pick: (items) => items[Math.floor(next() * items.length)] as (typeof items)[number],
  };
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

export function randomHex(chars: number): string {
  return Array.from(randomBytes(Math.ceil(chars / 2)), (b) => b.toString(16).padStart(2, "0"))
    .join("")
    .slice(0, chars);
}

export function randomBase62(chars: number): string {
  return Array.from(randomBytes(chars), (b) => BASE62[b % 62]).join("");
}

export function randomUuid(): string {
  return crypto.randomUUID();
}

/** Deterministic hex string of `chars` characters derived from `text`. */
export function stableHex(text: string, chars: number): string {
  let out = "";
  for (let lane = 0; out.length < chars; lane++) {
    out += fnv1a(text, 0x811c9dc5 ^ Math.imul(lane + 1, 0x9e3779b1))
      .toString(16)
      .padStart(8, "0");
  }
  return out.slice(0, chars);
}
