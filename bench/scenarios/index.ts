import type { BenchScenario } from "../lib/types";
import { classifyBench } from "./classify";
import { relay } from "./relay";

/**
 * Every benchmark `npm run bench` runs, in this order. Each issue that asks for a benchmark adds a
 * module under bench/scenarios/ exporting a `BenchScenario` and lists it here; `measureRequests`
 * and `compareRows` in bench/lib/ do the measuring and the absolute-plus-ratio tables.
 */
export const scenarios: BenchScenario[] = [relay, classifyBench];
