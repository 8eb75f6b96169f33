import { ms } from "./report/format";
import type { Progress } from "./runner";

/** The live progress line. Pure. */
export function progressLine(p: Progress): string {
  const behind = p.behindMs > 1 ? ` | behind ${ms(p.behindMs)}` : "";
  return (
    `[${p.elapsedS.toFixed(0).padStart(4)}/${p.durationS} s] sent ${p.sent} done ${p.completed} ` +
    `in-flight ${p.inFlight}${p.queued > 0 ? ` waiting ${p.queued}` : ""} | ok ${p.ok} 429 ${p.shed} err ${p.failed} | ` +
    `last s: ${p.lastSecond.completed} done, p50 ${ms(p.lastSecond.p50Ms)}, p99 ${ms(p.lastSecond.p99Ms)}, ` +
    `TTFT p50 ${ms(p.lastSecond.ttftP50Ms)}${behind}`
  );
}
