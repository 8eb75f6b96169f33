import type { Era } from "./options";

/** How a model name treats the `thinking` parameter. */
export type ThinkingRule = "defaultOn" | "always" | "never";

/** USD per 1M tokens. */
export interface Price {
  hit: number;
  miss: number;
  output: number;
}

export interface ModelSpec {
  id: string;
  thinking: ThinkingRule;
  vision: boolean;
  /** Upper bound of the valid max_tokens range. */
  maxTokens: number;
  /** Completion budget assumed by the context-length check when max_tokens is absent (0 = none). */
  defaultMaxTokens: number;
  contextLength: number;
  /** Accepted by /beta/completions. */
  fim: boolean;
  /** The 2025 deepseek-reasoner (R1) message-order and parameter restrictions. */
  r1Rules: boolean;
  /** Listed by GET /models (retired aliases are served but not listed). */
  listed: boolean;
  price: Price;
}

const V4_MAX = 393_216;
const V4_CTX = 1_048_576;
const FLASH_PRICE: Price = { hit: 0.0028, miss: 0.14, output: 0.28 };
const PRO_PRICE: Price = { hit: 0.003625, miss: 0.435, output: 0.87 };

function v4(id: string, extra: Partial<ModelSpec> = {}): ModelSpec {
  return {
    id,
    thinking: "defaultOn",
    vision: false,
    maxTokens: V4_MAX,
    defaultMaxTokens: 0,
    contextLength: V4_CTX,
    fim: true,
    r1Rules: false,
    listed: true,
    price: FLASH_PRICE,
    ...extra,
  };
}

const CATALOG: Record<Era, readonly ModelSpec[]> = {
  v41: [
    v4("deepseek-flash", { vision: true, price: { hit: 0.003, miss: 0.15, output: 0.6 } }),
    v4("deepseek-v4-flash", { listed: false }),
    v4("deepseek-v4-pro", { price: PRO_PRICE }),
  ],
  v4: [
    v4("deepseek-v4-flash"),
    v4("deepseek-v4-pro", { price: PRO_PRICE }),
    v4("deepseek-chat", { thinking: "never", listed: false }),
    v4("deepseek-reasoner", { thinking: "always", fim: false, listed: false }),
  ],
  legacy: [
    {
      id: "deepseek-chat",
      thinking: "never",
      vision: false,
      maxTokens: 8192,
      defaultMaxTokens: 4096,
      contextLength: 65_536,
      fim: true,
      r1Rules: false,
      listed: true,
      price: { hit: 0.07, miss: 0.27, output: 1.1 },
    },
    {
      id: "deepseek-reasoner",
      thinking: "always",
      vision: false,
      maxTokens: 65_536,
      defaultMaxTokens: 4096,
      contextLength: 65_536,
      fim: false,
      r1Rules: true,
      listed: true,
      price: { hit: 0.14, miss: 0.55, output: 2.19 },
    },
  ],
};

export function findModel(era: Era, id: string): ModelSpec | undefined {
  return CATALOG[era].find((m) => m.id === id);
}

export function listedModels(era: Era): ModelSpec[] {
  return CATALOG[era].filter((m) => m.listed);
}

/** FIM completions never think, so their max_tokens ceiling is the FIM one. */
export const FIM_MAX_TOKENS = 4096;
