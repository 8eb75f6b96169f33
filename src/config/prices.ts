import * as z from "../zod";

/** USD per 1M tokens. */
export const rates = z.object({
  inputCacheHit: z.number().check(z.nonnegative()),
  inputCacheMiss: z.number().check(z.nonnegative()),
  output: z.number().check(z.nonnegative()),
});
export type Rates = z.output<typeof rates>;

/**
 * One period of a model's price list. With `peak` set, `peakHoursUtc` are peak on weekdays and every
 * other hour is off-peak; `weekendsOffPeak` makes Saturday and Sunday (counted in Beijing time, as
 * DeepSeek counts them) off-peak all day.
 */
export const pricePeriod = z.object({
  from: z.iso.datetime(),
  offPeak: rates,
  peak: z.optional(rates),
  peakHoursUtc: z._default(
    z.array(z.tuple([z.int().check(z.gte(0), z.lte(23)), z.int().check(z.gte(1), z.lte(24))])),
    [],
  ),
  weekendsOffPeak: z._default(z.boolean(), false),
});
export type PricePeriod = z.output<typeof pricePeriod>;

/** Model name → its periods in any order; the latest period that has started applies. */
export const priceTable = z.record(z.string(), z.array(pricePeriod).check(z.minLength(1)));
type PriceTable = z.output<typeof priceTable>;

const PEAK_2026 = [
  [1, 4],
  [6, 10],
] as const satisfies Array<[number, number]>;

const flash2026Aug = {
  offPeak: { inputCacheHit: 0.007, inputCacheMiss: 0.22, output: 0.66 },
  peak: { inputCacheHit: 0.014, inputCacheMiss: 0.44, output: 1.32 },
};
const flash2026Sep = {
  offPeak: { inputCacheHit: 0.003, inputCacheMiss: 0.15, output: 0.6 },
  peak: { inputCacheHit: 0.006, inputCacheMiss: 0.3, output: 1.2 },
};
const pro2026Aug = {
  offPeak: { inputCacheHit: 0.022, inputCacheMiss: 0.66, output: 1.98 },
  peak: { inputCacheHit: 0.044, inputCacheMiss: 1.32, output: 3.96 },
};

function peakPeriods(
  model: { offPeak: Rates; peak: Rates },
  flat: Rates,
  flatFrom: string,
): z.input<typeof pricePeriod>[] {
  return [
    { from: flatFrom, offPeak: flat },
    // Peak/off-peak pricing from 2026-08-16 16:00 UTC; weekends became off-peak on 2026-08-23.
    { from: "2026-08-16T16:00:00Z", ...model, peakHoursUtc: PEAK_2026 },
    { from: "2026-08-23T00:00:00Z", ...model, peakHoursUtc: PEAK_2026, weekendsOffPeak: true },
  ];
}

const FLASH_PERIODS = [
  ...peakPeriods(
    flash2026Aug,
    { inputCacheHit: 0.0028, inputCacheMiss: 0.14, output: 0.28 },
    "2026-05-22T00:00:00Z",
  ),
  // V4.1-Flash as `deepseek-flash`; the old `deepseek-v4-flash` name is served and billed as it.
  { from: "2026-09-10T00:00:00Z", ...flash2026Sep, peakHoursUtc: PEAK_2026, weekendsOffPeak: true },
];

/**
 * DeepSeek's published prices (shared/reference/deepseek-api.md §7.1). A price change is an edit here
 * or a `prices` override in the routing policy: add a period with its `from` date.
 */
export const DEEPSEEK_PRICES: PriceTable = priceTable.parse({
  "deepseek-flash": FLASH_PERIODS,
  "deepseek-v4-flash": FLASH_PERIODS,
  "deepseek-v4-pro": peakPeriods(
    pro2026Aug,
    { inputCacheHit: 0.003625, inputCacheMiss: 0.435, output: 0.87 },
    "2026-05-22T00:00:00Z",
  ),
});
