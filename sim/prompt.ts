import { fnv1a } from "./hash";
import type { ChatRequest, Content, FimRequest } from "./request";

/**
 * Renders a request the way a DeepSeek chat template would (special tokens around roles, tools first),
 * so prompt token counts and prefix-cache hits behave like the real ones: same prefix, same tokens.
 */

const BOS = "<｜begin▁of▁sentence｜>";
const EOS = "<｜end▁of▁sentence｜>";
/** Tokens charged per image; the real count depends on the image size. */
const IMAGE_TOKENS = 256;

function contentText(content: Content | undefined): string {
  if (content === undefined) return "";
  if (typeof content === "string") return content;
  return content
    .map((p) =>
      p.type === "text" ? p.text : `<｜image:${fnv1a(p.image_url.url).toString(16)}｜>`.repeat(IMAGE_TOKENS),
    )
    .join("");
}

/** The text of every message, for generation heuristics (tool-name mentions, "json", language). */
export function messageText(content: Content | undefined): string {
  if (content === undefined || typeof content === "string") return content ?? "";
  return content.map((p) => (p.type === "text" ? p.text : "")).join("");
}

export function renderChatPrompt(req: ChatRequest, thinking: boolean): string {
  let out = BOS;
  if (req.tools?.length) out += `## Tools\n${JSON.stringify(req.tools)}\n`;
  const last = req.messages.at(-1);
  const prefixed = last?.role === "assistant" && last.prefix === true;
  req.messages.forEach((m, i) => {
    switch (m.role) {
      case "system":
        out += contentText(m.content);
        break;
      case "user":
        out += `<｜User｜>${contentText(m.content)}`;
        break;
      case "tool":
        out += `<｜tool▁output▁begin｜>${contentText(m.content)}<｜tool▁output▁end｜>`;
        break;
      case "assistant": {
        out += `<｜Assistant｜>${contentText(m.content)}`;
        for (const c of m.tool_calls ?? []) {
          out += `<｜tool▁call▁begin｜>${c.function.name}<｜tool▁sep｜>${c.function.arguments}<｜tool▁call▁end｜>`;
        }
        if (!(prefixed && i === req.messages.length - 1)) out += EOS;
      }
    }
  });
  if (!prefixed) out += `<｜Assistant｜>${thinking ? "<think>" : "</think>"}`;
  return out;
}

export function renderFimPrompt(req: FimRequest): string {
  return `${BOS}<｜fim▁begin｜>${req.prompt}<｜fim▁hole｜>${req.suffix ?? ""}<｜fim▁end｜>`;
}
