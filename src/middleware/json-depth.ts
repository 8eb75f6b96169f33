import { RouterError } from "../errors";

/**
 * How deep a request body's JSON may nest. Real requests stay far below it (a tool's JSON schema is
 * the deepest part, rarely past 20); past a few thousand levels the router's own recursive walks (the
 * cache key, re-serialising for the upstream) would overflow the stack.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Refuses a parsed body nested deeper than {@link MAX_JSON_DEPTH}. Iterative, and it visits objects
 * and arrays only, so a large prompt (long strings) costs no more than a small one.
 */
export function assertNestingWithin(value: unknown, maxDepth = MAX_JSON_DEPTH): void {
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (typeof node !== "object" || node === null) continue;
    if (depth > maxDepth) {
      throw new RouterError(
        "invalid_request",
        `The request body nests JSON deeper than ${maxDepth} levels, the router's limit.`,
      );
    }
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === "object" && child !== null) pending.push([child, depth + 1]);
    }
  }
}
