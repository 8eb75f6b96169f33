import { type Generated, type GenLimits, generateChat, generateFim } from "./completion";
import type { SimError } from "./errors";
import type { ModelSpec } from "./models";
import type { SimOptions } from "./options";
import { renderChatPrompt, renderFimPrompt } from "./prompt";
import { chatBody, chatFrames, type Frame, fimBody, fimFrames, type Meta, type UsageCounts } from "./render";
import { chatDecoder, fimDecoder, parseBody } from "./request";
import type { RecentRequest } from "./stats";
import { tokenize } from "./tokens";
import { checkContext, validateChat, validateFim } from "./validate";

/** A request that passed validation: what it will cost and how to frame its answer. */
export interface Prepared {
  model: string;
  stream: boolean;
  spec: ModelSpec;
  thinking: boolean;
  includeUsage: boolean;
  prompt: string[];
  /** Prefix-cache isolation: account, plus user_id when given. */
  scope: string;
  generate(limits: GenLimits): Generated;
  frames(g: Generated, meta: Meta, usage: UsageCounts): Frame[];
  body(g: Generated, meta: Meta, usage: UsageCounts): string;
}

type Preparation = { ok: true; prepared: Prepared } | { ok: false; error: SimError };

/** Bodies above this size are summarised in stats.recent instead of kept (50 huge prompts add up). */
const RECENT_BODY_LIMIT = 256 * 1024;

function note(record: RecentRequest, raw: unknown, text: string): void {
  record.body = text.length <= RECENT_BODY_LIMIT ? raw : { truncated: true, chars: text.length };
  if (typeof raw !== "object" || raw === null) return;
  const { model, stream } = raw as { model?: unknown; stream?: unknown };
  if (typeof model === "string") record.model = model;
  if (typeof stream === "boolean") record.stream = stream;
}

export function prepareChat(o: SimOptions, text: string, key: string, record: RecentRequest): Preparation {
  const parsed = parseBody(text, chatDecoder(o.era), o.era);
  note(record, parsed.raw, text);
  if (!parsed.ok) return parsed;
  const req = parsed.value;
  const checked = validateChat(o.era, req, text);
  if (!checked.ok) return checked;
  const { spec, thinking } = checked.resolved;
  const prompt = tokenize(renderChatPrompt(req, thinking));
  const overflow = checkContext(spec, prompt.length, req.max_tokens);
  if (overflow) return { ok: false, error: overflow };
  return {
    ok: true,
    prepared: {
      model: req.model,
      stream: req.stream === true,
      spec,
      thinking,
      includeUsage: req.stream_options?.include_usage === true,
      prompt,
      scope: `${key}\u0000${req.user_id ?? ""}`,
      generate: (limits) => generateChat(req, checked.resolved, limits),
      frames: chatFrames,
      body: chatBody,
    },
  };
}

export function prepareFim(o: SimOptions, text: string, key: string, record: RecentRequest): Preparation {
  const parsed = parseBody(text, fimDecoder(o.era), o.era);
  note(record, parsed.raw, text);
  if (!parsed.ok) return parsed;
  const req = parsed.value;
  const checked = validateFim(o.era, req);
  if (!checked.ok) return checked;
  const spec = checked.resolved.spec;
  const prompt = tokenize(renderFimPrompt(req));
  const overflow = checkContext(spec, prompt.length, req.max_tokens);
  if (overflow) return { ok: false, error: overflow };
  const echo = req.echo ? req.prompt : undefined;
  return {
    ok: true,
    prepared: {
      model: req.model,
      stream: req.stream === true,
      spec,
      thinking: false,
      includeUsage: req.stream_options?.include_usage === true,
      prompt,
      scope: `${key}\u0000`,
      generate: (limits) => generateFim(req, limits),
      frames: (g, meta, usage) => fimFrames(g, meta, usage, echo),
      body: (g, meta, usage) => fimBody(g, meta, usage, echo),
    },
  };
}
