import type { BenchScenario } from "../lib/types";
import { admissionGate } from "./admission-gate";
import { arrangements } from "./arrangements";
import { bundle } from "./bundle";
import { cacheLatency, cacheWorkload } from "./cache";
import { classifyBench } from "./classify";
import { cost } from "./cost";
import { frontendBench } from "./frontend";
import { geography } from "./geography";
import { kept } from "./kept";
import { ladder } from "./ladder";
import { layers } from "./layers";
import { ledgerWrites } from "./ledger-writes";
import { limitsBench } from "./limits";
import { metricsBench } from "./metrics";
import { overload } from "./overload";
import { profile } from "./profile";
import { promptSize } from "./prompt-size";
import { recordsBench } from "./records";
import { relay } from "./relay";
import { relayProbes } from "./relay-probes";
import { spike } from "./spike";
import { streams } from "./streams";
import { surfaces } from "./surfaces";
import { throughput } from "./throughput";

/**
 * Every benchmark `npm run bench` runs, in this order. Each issue that asks for a benchmark adds a
 * module under bench/scenarios/ exporting a `BenchScenario` and lists it here; `measureRequests`
 * and `compareRows` in bench/lib/ do the measuring and the absolute-plus-ratio tables.
 */
export const scenarios: BenchScenario[] = [
  relay,
  surfaces,
  limitsBench,
  throughput,
  streams,
  arrangements,
  relayProbes,
  promptSize,
  classifyBench,
  cacheLatency,
  cacheWorkload,
  admissionGate,
  geography,
  overload,
  spike,
  bundle,
  metricsBench,
  recordsBench,
  ledgerWrites,
  ladder,
  profile,
  layers,
  cost,
  frontendBench,
  kept,
];
