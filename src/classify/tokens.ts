/**
 * A fast prompt-token estimate in one pass over the characters (a bounded sample of a long text), with
 * no allocation. It follows how
 * byte-level BPE tokenizers such as DeepSeek's split text: a word with its leading space is one token
 * up to about six letters and one more per four letters after that; digits go in groups of three;
 * punctuation runs take about a token per two characters; CJK characters about 0.6 token each
 * (DeepSeek's own figure). Its error against the simulator's tokenizer is measured by
 * `npm run bench -- classify` and stated in docs/ARCHITECTURE.md.
 */
export function estimateTextTokens(text: string): number {
  if (text.length <= FULL_SCAN_CHARS) return scanTokens(text, 0, text.length);
  // A long text (a pasted file, a long history) is read in three windows, start, middle and end, and
  // scaled by its length: the estimate stays within a few percent for any text whose mix does not
  // change wildly between windows, at a fixed cost instead of a pass over megabytes.
  const middle = Math.floor((text.length - SAMPLE_WINDOW_CHARS) / 2);
  const sampled =
    scanTokens(text, 0, SAMPLE_WINDOW_CHARS) +
    scanTokens(text, middle, middle + SAMPLE_WINDOW_CHARS) +
    scanTokens(text, text.length - SAMPLE_WINDOW_CHARS, text.length);
  return (sampled * text.length) / (3 * SAMPLE_WINDOW_CHARS);
}

/** Texts up to this many characters are estimated in full. */
const FULL_SCAN_CHARS = 1 << 16;
const SAMPLE_WINDOW_CHARS = 1 << 14;

function scanTokens(text: string, from: number, to: number): number {
  let tokens = 0;
  let run = 0;
  let kind = RUN_NONE;
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    const next = classOf(code);
    if (next === kind && next !== RUN_CJK) {
      run++;
      continue;
    }
    tokens += runTokens(kind, run);
    kind = next;
    run = 1;
  }
  return tokens + runTokens(kind, run);
}

const RUN_NONE = 0;
const RUN_LETTER = 1;
const RUN_DIGIT = 2;
const RUN_PUNCT = 3;
const RUN_SPACE = 4;
const RUN_NEWLINE = 5;
const RUN_CJK = 6;
const RUN_OTHER = 7;

function classOf(code: number): number {
  if ((code >= 97 && code <= 122) || (code >= 65 && code <= 90)) return RUN_LETTER;
  if (code === 32 || code === 9) return RUN_SPACE;
  if (code >= 48 && code <= 57) return RUN_DIGIT;
  if (code === 10 || code === 13) return RUN_NEWLINE;
  if (code < 128) return RUN_PUNCT;
  if (
    (code >= 0x3000 && code <= 0x9fff) ||
    (code >= 0xac00 && code <= 0xd7af) ||
    (code >= 0xff00 && code <= 0xffef)
  )
    return RUN_CJK;
  return RUN_OTHER;
}

function runTokens(kind: number, length: number): number {
  switch (kind) {
    case RUN_LETTER:
      return length <= 6 ? 1 : 1 + Math.ceil((length - 6) / 4);
    case RUN_DIGIT:
      return Math.ceil(length / 3);
    case RUN_PUNCT:
      return Math.ceil(length / 2);
    // A single space rides on the next word; longer runs of indentation are tokens of their own.
    case RUN_SPACE:
      return length === 1 ? 0 : Math.ceil((length - 1) / 4);
    case RUN_NEWLINE:
      return 1;
    case RUN_CJK:
      return 0.6;
    case RUN_OTHER:
      return Math.ceil(length / 3);
    default:
      return 0;
  }
}

/** Tokens charged for an image part; DeepSeek does not publish it, so this is a planning figure. */
export const IMAGE_TOKENS = 576;
export const MESSAGE_OVERHEAD_TOKENS = 4;
