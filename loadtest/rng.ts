/** A seeded uniform generator on [0, 1). */
export type Rng = () => number;

/** mulberry32: tiny, fast, and good enough for load shapes; not for anything secret. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A seed derived from a parent seed and a label, so sub-streams stay independent and reproducible. */
export function deriveSeed(seed: number, label: string | number): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (const ch of String(label)) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** An exponential draw with mean 1. */
export function expDraw(rng: Rng): number {
  return -Math.log(1 - rng());
}

/** A standard normal draw (Box–Muller). */
export function normalDraw(rng: Rng): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Picks a key with probability proportional to its weight; keys with weight ≤ 0 are never picked. */
export function weightedPick<K extends string>(weights: Readonly<Partial<Record<K, number>>>, rng: Rng): K {
  const entries = (Object.entries(weights) as Array<[K, number | undefined]>).filter(
    (e): e is [K, number] => (e[1] ?? 0) > 0,
  );
  if (entries.length === 0) throw new Error("weightedPick: no positive weight");
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  let r = rng() * total;
  for (const [key, w] of entries) {
    r -= w;
    if (r < 0) return key;
  }
  return entries[entries.length - 1]![0];
}
