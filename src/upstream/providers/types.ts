import type { TargetSpec } from "../../config/policy";
import type { PlanStep } from "../../routing/plan";
import type { WireEndpoint } from "../../surfaces";

/** What a provider needs to send one attempt. */
export interface UpstreamCall {
  endpoint: WireEndpoint;
  /** The validated request JSON, unknown fields included. */
  body: Record<string, unknown>;
  /** The caller's bytes (or text), forwarded untouched when nothing about the request changes. */
  rawBody: string | Uint8Array;
  stream: boolean;
  /** The caller used DeepSeek's /beta base (prefix completion, strict tools). */
  beta: boolean;
  /** Caller headers a surface passes upstream (`anthropic-version`, `anthropic-beta`); never credentials. */
  headers?: Record<string, string>;
  step: PlanStep;
}

/** Bindings and secrets a provider may use, looked up by the names the policy gives: the Worker's `Env`. */
export type ProviderEnv = object;

/**
 * One upstream API behind the router. `send` answers in DeepSeek's shape whatever the provider
 * speaks: a 2xx Response whose body is DeepSeek JSON or DeepSeek SSE, or an error Response
 * (status + an `{error}` body) for the router to map. It throws only when nothing could be sent.
 */
export interface Provider {
  /**
   * The other surfaces (Anthropic Messages, Responses) it serves in their own wire format; they are
   * relayed, never translated, so a pool whose provider lacks one is not planned for it.
   */
  readonly relays?: readonly WireEndpoint[];
  send(call: UpstreamCall, target: TargetSpec, env: ProviderEnv, signal: AbortSignal): Promise<Response>;
}

/** The request body for this step: the caller's bytes if nothing changes, else re-serialised. */
export function bodyFor(
  call: UpstreamCall,
  overrides: Record<string, unknown> = {},
  drop: readonly string[] = [],
): string | Uint8Array {
  const { step } = call;
  const unchanged = step.upstreamModel === call.body.model && !step.disableThinking;
  if (unchanged && Object.keys(overrides).length === 0 && drop.length === 0) return call.rawBody;
  const body: Record<string, unknown> = { ...call.body, model: step.upstreamModel, ...overrides };
  if (step.disableThinking && call.endpoint === "responses") {
    body.reasoning = { ...(body.reasoning as object | undefined), effort: "none" };
  } else if (step.disableThinking) {
    body.thinking = { type: "disabled" };
    delete body.reasoning_effort;
  }
  for (const field of drop) delete body[field];
  return JSON.stringify(body);
}

export function secretOf(env: ProviderEnv, target: TargetSpec): string {
  const value = target.keySecret ? Reflect.get(env, target.keySecret) : undefined;
  return typeof value === "string" ? value : "";
}
