import type { ChatMessage } from "../schema/chat";
import { estimateTextTokens, IMAGE_TOKENS, MESSAGE_OVERHEAD_TOKENS } from "./tokens";

interface PromptShape {
  tokens: number;
  images: number;
  /** Text of the last user message, the best evidence of what the caller wants now. */
  lastUserText: string;
}

/** One pass over the messages: token estimate, image count, the last user turn. */
export function promptShape(messages: readonly ChatMessage[], toolsJsonLength: number): PromptShape {
  let tokens = toolsJsonLength * 0.3;
  let images = 0;
  let lastUserText = "";
  for (const message of messages) {
    tokens += MESSAGE_OVERHEAD_TOKENS;
    const content = message.content;
    if (typeof content === "string") tokens += estimateTextTokens(content);
    else if (Array.isArray(content)) {
      for (const part of content) {
        if (part.type === "text") tokens += estimateTextTokens(part.text);
        else images++;
      }
    }
    if (message.role === "assistant") {
      if (message.reasoning_content) tokens += estimateTextTokens(message.reasoning_content);
      for (const call of message.tool_calls ?? []) tokens += estimateTextTokens(call.function.arguments) + 8;
    }
    if (message.role === "user") lastUserText = textOf(content);
  }
  return { tokens: Math.ceil(tokens + images * IMAGE_TOKENS), images, lastUserText };
}

function textOf(content: ChatMessage["content"]): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((part) => (part.type === "text" ? part.text : "")).join("\n");
}

const CODE_LINE =
  /(^\s*(def|class|import|from|function|const|let|var|return|public|private|fn|func|package|#include|SELECT|if|for|while)\b)|([;{}]\s*$)|(^\s*[}\])]\s*$)/;
const SCAN_LIMIT = 20_000;

/**
 * Whether a prompt is mostly code: most of it inside ``` fences, or most of its lines shaped like
 * code. Scans at most the first 20k characters, so it stays cheap on huge prompts.
 */
export function looksLikeCode(text: string): boolean {
  const sample = text.length > SCAN_LIMIT ? text.slice(0, SCAN_LIMIT) : text;
  const fenced = sample.split("```");
  if (fenced.length >= 3) {
    let inside = 0;
    for (let i = 1; i < fenced.length; i += 2) inside += fenced[i]?.length ?? 0;
    if (inside >= sample.length * 0.5) return true;
  }
  let lines = 0;
  let codeLines = 0;
  for (const line of sample.split("\n")) {
    if (line.trim() === "") continue;
    lines++;
    if (CODE_LINE.test(line)) codeLines++;
  }
  return lines >= 3 && codeLines >= lines * 0.5;
}
