import type { FaultRates, FaultSpec, FaultStatus } from "./options";

const STATUSES: readonly FaultStatus[] = [429, 500, 502, 503, 504];

/** Maps one uniform draw `u` in [0, 1) to a fault, each with its configured probability. */
function drawFault(rates: FaultRates, u: number): FaultSpec {
  const table: [number, FaultSpec][] = [
    ...STATUSES.map((status): [number, FaultSpec] => [
      rates.statusRates[`${status}`],
      { kind: "status", status },
    ]),
    [rates.blankBodyRate, { kind: "blankBody" }],
    [rates.stallBeforeFirstTokenRate, { kind: "stallBeforeFirstToken" }],
    [rates.stallMidStreamRate, { kind: "stallMidStream" }],
    [rates.cutMidStreamRate, { kind: "cutMidStream" }],
    [rates.insufficientResourceRate, { kind: "insufficientResource" }],
  ];
  let acc = 0;
  for (const [rate, spec] of table) {
    acc += rate;
    if (u < acc) return spec;
  }
  return { kind: "none" };
}

/** The next fault: the head of the script if any (removed from it), else a seeded draw. */
export function nextFault(script: FaultSpec[], rates: FaultRates, draw: () => number): FaultSpec {
  return script.shift() ?? drawFault(rates, draw());
}

/** Stats key of a fault, or undefined for "none". */
export function faultLabel(spec: FaultSpec): string | undefined {
  if (spec.kind === "none") return undefined;
  return spec.kind === "status" ? `status:${spec.status}` : spec.kind;
}
