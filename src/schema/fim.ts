import { z } from "zod";
import { streamOptions } from "./chat";

/** DeepSeek FIM (`/beta/completions`): a prompt and optional suffix; unknown fields pass through. */
export const fimRequest = z.looseObject({
  model: z.string().min(1, "model is required"),
  prompt: z.string(),
  suffix: z.string().nullish(),
  echo: z.boolean().nullish(),
  logprobs: z.number().int().min(0).max(20).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  stream: z.boolean().nullish(),
  stream_options: streamOptions.nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).nullish(),
});

export type FimRequest = z.output<typeof fimRequest>;
