import type { Rng } from "./hash";
import { tokenize } from "./tokens";

/**
 * Deterministic filler text, produced directly as token pieces (one piece = one streamed token).
 * English words are at most six letters so each piece is exactly one token for `tokenize`.
 */

const WORDS = (
  "the of and to in is it that for on with as this are be at or by from can will an use we data " +
  "value model system time case work way part point state level order step input output result " +
  "cache query token stream server client route limit error retry range test check note plan " +
  "first next last simple small large fast slow stable early later often always never each every " +
  "more less most some many other same new good clear known exact local remote common basic main " +
  "make take give keep send read write build start stop run call find show move hold allow return " +
  "should would could may must might does has have was were been being also then than when where " +
  "which while after before under over into about across above below again still just only very"
).split(" ");

const REASONING_OPENERS = [
  "Okay, let me think about this.",
  "We need to answer the user.",
  "Let me work through it.",
];

const CJK_WORDS = (
  "我们 可以 这个 问题 需要 系统 数据 模型 结果 方法 时间 服务 请求 用户 以及 通过 进行 其中 首先 然后 " +
  "最后 因为 所以 如果 已经 还是 一个 没有 重要 简单 稳定 快速 缓存 路由 并发 限制 重试 错误"
).split(" ");

const IDENTS = ["value", "result", "items", "count", "index", "total", "data", "node", "key", "cache"];
const FUNCS = ["compute", "update", "parse", "load", "merge", "check", "render", "fetch"];

export type Language = "en" | "zh";

/** Chinese when at least 30% of the letters in `text` are CJK. */
export function detectLanguage(text: string): Language {
  const cjk =
    text.match(/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/gu)?.length ?? 0;
  const latin = text.match(/[A-Za-z]/g)?.length ?? 0;
  return cjk > 0 && cjk >= 0.3 * (cjk + latin) ? "zh" : "en";
}

/** Lower-case short words of `text`, to weave into answers so they look related to the prompt. */
export function promptWords(text: string): string[] {
  const words = text.toLowerCase().match(/\b[a-z]{3,6}\b/g) ?? [];
  return [...new Set(words)].slice(0, 64);
}

function capitalize(w: string): string {
  return w.charAt(0).toUpperCase() + w.slice(1);
}

/** Exactly `n` pieces of sentences, ending on a full stop when `n` allows it. */
export function prose(
  rng: Rng,
  n: number,
  language: Language,
  extra: readonly string[] = [],
  continued = false,
): string[] {
  const out: string[] = [];
  const zh = language === "zh";
  while (out.length < n) {
    const words = rng.int(5, 14);
    for (let w = 0; w < words && out.length < n - 1; w++) {
      if (zh) {
        out.push(rng.pick(CJK_WORDS));
        if (w > 2 && w < words - 1 && rng.next() < 0.12 && out.length < n - 1) out.push("，");
        continue;
      }
      const fromPrompt = rng.next() < Math.min(0.15, extra.length * 0.02);
      const word = fromPrompt ? rng.pick(extra) : rng.pick(WORDS);
      const lead = out.length === 0 && !continued ? "" : " ";
      out.push(`${lead}${w === 0 ? capitalize(word) : word}`);
      if (w > 2 && w < words - 1 && rng.next() < 0.12 && out.length < n - 1) out.push(",");
    }
    out.push(zh ? "。" : ".");
  }
  return out.slice(0, n);
}

/** Reasoning text: an opener, then prose; `n` pieces. */
export function reasoning(rng: Rng, n: number, language: Language, extra: readonly string[]): string[] {
  const opener =
    language === "zh"
      ? ["嗯，", "用户", "想", "知道", "这个", "问题", "。"]
      : tokenize(rng.pick(REASONING_OPENERS));
  const rest = prose(rng, Math.max(0, n - opener.length), language, extra, true);
  return [...opener, ...rest].slice(0, n);
}

/** Code-like filler for FIM: `n` pieces of short indented lines. */
export function code(rng: Rng, n: number, idents: readonly string[]): string[] {
  const names = idents.length > 0 ? [...idents, ...IDENTS] : IDENTS;
  const lines: string[] = [];
  let pieces = 0;
  while (pieces < n) {
    const a = rng.pick(names);
    const b = rng.pick(names);
    const line = rng.pick([
      `    ${a} = ${rng.pick(FUNCS)}(${b})\n`,
      `    if ${a} is None:\n        return ${b}\n`,
      `    ${a} += ${rng.int(1, 99)}\n`,
      `    return ${a}\n`,
    ]);
    lines.push(line);
    pieces += tokenize(line).length;
  }
  return tokenize(lines.join("")).slice(0, n);
}
