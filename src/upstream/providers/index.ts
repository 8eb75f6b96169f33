import type { ProviderKind } from "../../config/policy";
import { deepseekProvider } from "./deepseek";
import { openAiCompatibleProvider } from "./openai-compatible";
import type { Provider } from "./types";
import { workersAiProvider } from "./workers-ai";

/** Adding a provider is a new file and a line here; nothing else in the router changes. */
export const PROVIDERS: Record<ProviderKind, Provider> = {
  deepseek: deepseekProvider,
  "openai-compatible": openAiCompatibleProvider,
  "workers-ai": workersAiProvider,
};
