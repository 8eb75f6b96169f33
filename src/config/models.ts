/**
 * DeepSeek's V4-era models think unless told not to (`thinking: {type: "disabled"}`), so a request
 * that says nothing about thinking is, in cost and latency, a reasoning request.
 */
export const THINKS_BY_DEFAULT: ReadonlySet<string> = new Set([
  "deepseek-flash",
  "deepseek-v4-flash",
  "deepseek-v4-pro",
]);

/** The pseudo-model that lets the router choose the cheapest model that fits. */
export const AUTO_MODEL = "auto";
