import * as z from "../zod";
import { modelName, samplingFields } from "./chat";

/** DeepSeek FIM (`/beta/completions`): a prompt and optional suffix; unknown fields pass through. */
export const fimRequest = z.looseObject({
  model: modelName,
  prompt: z.string(),
  suffix: z.nullish(z.string()),
  echo: z.nullish(z.boolean()),
  logprobs: z.nullish(z.int().check(z.gte(0), z.lte(20))),
  ...samplingFields,
});

export type FimRequest = z.output<typeof fimRequest>;
