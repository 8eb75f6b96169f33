import type { AnswerObserver } from "../answer";
import { AUTO_MODEL, THINKS_BY_DEFAULT } from "../config/models";
import { type Capability, MODEL_TYPES, type ModelType, type Policy } from "../config/policy";
import { PRIORITIES, type Priority, type Tenant } from "../config/tenants";
import { RouterError } from "../errors";
import { parseEnumHeader } from "../headers";
import type { ChatRequest } from "../schema/chat";
import type { FimRequest } from "../schema/fim";
import type { SurfaceCall } from "../surfaces";
import { modelPrices, servedModels } from "./catalog";
import { costUsd, ratesAt } from "./price";
import { looksLikeCode, promptShape } from "./signals";
import { estimateTextTokens } from "./tokens";

export const LATENCY_CLASSES = ["interactive", "background"] as const;
export type LatencyClass = (typeof LATENCY_CLASSES)[number];

export type InferenceRequest =
  | { endpoint: "chat"; body: ChatRequest }
  | { endpoint: "fim"; body: FimRequest };

/** The router's headers that steer classification; all optional. */
export interface ClassifyHeaders {
  type?: string;
  priority?: string;
  latency?: string;
}

export interface Classification {
  /** As the caller named it. */
  requestedModel: string;
  /** After aliases and `auto`. */
  model: string;
  auto: boolean;
  type: ModelType;
  /** Short human-readable why, for `x-router-reason`. */
  why: string;
  /** Whether the upstream will think (and bill reasoning tokens). */
  thinking: boolean;
  needs: Capability[];
  promptTokens: number;
  outputTokens: number;
  estimatedCostUsd: number;
  peakPricing: boolean;
  latency: LatencyClass;
  priority: Priority;
  priorityCapped: boolean;
}

/** What kind of request this is and what it will likely cost. Pure: no I/O, `now` is an argument. */
export function classify(
  request: InferenceRequest,
  headers: ClassifyHeaders,
  tenant: Tenant,
  policy: Policy,
  now: number,
): Classification {
  const requestedModel = request.body.model;
  const auto = requestedModel === AUTO_MODEL;
  const shape = shapeOf(request);
  const override = parseEnumHeader(headers.type, MODEL_TYPES, "x-router-type");
  const explicitThinking = thinkingAsked(request);

  const typed = override
    ? { type: override, why: "type set by x-router-type" }
    : inferType(request, shape, explicitThinking, auto ? false : undefined, requestedModel);
  const needs = capabilitiesNeeded(request, typed.type, shape.images);
  const outputTokens = request.body.max_tokens ?? policy.defaultOutputTokens[typed.type];

  const model = auto
    ? cheapestModel(policy, typed.type, needs, shape.tokens, outputTokens, now)
    : resolveAlias(policy, requestedModel);
  const thinking =
    typed.type === "reasoning" ||
    (explicitThinking ?? (!auto && THINKS_BY_DEFAULT.has(model) && request.endpoint === "chat"));
  const price = ratesAt(modelPrices(policy, model), now);
  const estimatedCostUsd = price
    ? costUsd({ cacheHitTokens: 0, cacheMissTokens: shape.tokens, outputTokens }, price.rates)
    : 0;

  const { priority, capped } = priorityFor(headers.priority, tenant);
  const latency =
    parseEnumHeader(headers.latency, LATENCY_CLASSES, "x-router-latency") ??
    (request.body.stream ? "interactive" : "background");

  return {
    requestedModel,
    model,
    auto,
    type: typed.type,
    why: auto ? `auto: ${typed.why}, cheapest fit ${model}` : typed.why,
    thinking,
    needs: thinking && !needs.includes("thinking") ? [...needs, "thinking"] : needs,
    promptTokens: shape.tokens,
    outputTokens,
    estimatedCostUsd,
    peakPricing: price?.peak ?? false,
    latency,
    priority,
    priorityCapped: capped,
  };
}

function shapeOf(request: InferenceRequest): { tokens: number; images: number; lastUserText: string } {
  if (request.endpoint === "fim") {
    const text = request.body.prompt + (request.body.suffix ?? "");
    return { tokens: Math.ceil(estimateTextTokens(text)), images: 0, lastUserText: text };
  }
  const toolsLength = request.body.tools ? JSON.stringify(request.body.tools).length : 0;
  return promptShape(request.body.messages, toolsLength);
}

/** `true`/`false` when the request says so, `undefined` when it leaves thinking to the model. */
function thinkingAsked(request: InferenceRequest): boolean | undefined {
  if (request.endpoint === "fim") return false;
  const { thinking, reasoning_effort } = request.body;
  if (thinking?.type === "enabled") return true;
  if (thinking?.type === "disabled") return false;
  if (reasoning_effort) return true;
  return undefined;
}

function inferType(
  request: InferenceRequest,
  shape: { images: number; lastUserText: string },
  explicitThinking: boolean | undefined,
  autoThinking: boolean | undefined,
  model: string,
): { type: ModelType; why: string } {
  if (shape.images > 0) return { type: "vision", why: `${shape.images} image part(s)` };
  if (request.endpoint === "fim") return { type: "code", why: "FIM completion" };
  if (explicitThinking === true) return { type: "reasoning", why: "thinking requested" };
  if (explicitThinking === undefined && autoThinking === undefined && THINKS_BY_DEFAULT.has(model)) {
    return { type: "reasoning", why: `${model} thinks by default` };
  }
  if (looksLikeCode(shape.lastUserText)) return { type: "code", why: "code-dominated prompt" };
  return { type: "chat", why: explicitThinking === false ? "thinking disabled" : "plain chat" };
}

function capabilitiesNeeded(request: InferenceRequest, type: ModelType, images: number): Capability[] {
  const needs: Capability[] = [];
  if (images > 0 || type === "vision") needs.push("vision");
  if (request.endpoint === "fim") needs.push("fim");
  else {
    const { tools, tool_choice, response_format } = request.body;
    if (tools && tools.length > 0 && tool_choice !== "none") needs.push("tools");
    if (response_format?.type === "json_object") needs.push("json");
  }
  return needs;
}

function resolveAlias(policy: Policy, model: string): string {
  const resolved = policy.aliases[model] ?? model;
  if (!servedModels(policy).has(resolved))
    throw new RouterError("model_not_found", "Model Not Exist", { param: "model" });
  return resolved;
}

/** The model with the lowest estimated cost among those the type's pools serve with the needed capabilities. */
function cheapestModel(
  policy: Policy,
  type: ModelType,
  needs: readonly Capability[],
  promptTokens: number,
  outputTokens: number,
  now: number,
): string {
  let best: { model: string; cost: number } | undefined;
  for (const poolName of policy.routes[type]) {
    const pool = policy.pools[poolName];
    if (!pool || !needs.every((need) => pool.capabilities.includes(need))) continue;
    for (const model of Object.keys(pool.models)) {
      if (model === "*") continue;
      const price = ratesAt(modelPrices(policy, model), now);
      const cost = price
        ? costUsd({ cacheHitTokens: 0, cacheMissTokens: promptTokens, outputTokens }, price.rates)
        : Number.POSITIVE_INFINITY;
      if (!best || cost < best.cost) best = { model, cost };
    }
  }
  if (!best) {
    throw new RouterError(
      "unroutable",
      `No pool can serve a ${type} request needing ${needs.join(", ") || "nothing special"}.`,
      {
        param: "model",
      },
    );
  }
  return best.model;
}

function priorityFor(header: string | undefined, tenant: Tenant): { priority: Priority; capped: boolean } {
  const asked = parseEnumHeader(header, PRIORITIES, "x-router-priority") ?? "normal";
  const askedRank = PRIORITIES.indexOf(asked);
  const capRank = PRIORITIES.indexOf(tenant.maxPriority);
  // PRIORITIES runs from high to low, so a smaller index is a higher priority.
  return askedRank < capRank
    ? { priority: tenant.maxPriority, capped: true }
    : { priority: asked, capped: false };
}

/** The caller's request after validation, plus how it arrived. */
export interface InferenceCall {
  /** What classification reads: the request in the router's internal (chat-completions) terms. */
  request: InferenceRequest;
  /** The caller's bytes, relayed when nothing about the request changes. */
  rawBody: string | Uint8Array;
  /** Arrived under DeepSeek's /beta base. */
  beta: boolean;
  /** Came through another front door: its own body is what goes upstream, is keyed and is answered. */
  surface?: SurfaceCall;
  /** Watch the answer if it comes from upstream (not a cache hit or a shared answer). */
  observers?: readonly AnswerObserver[];
}
