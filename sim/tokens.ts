/**
 * An approximation of DeepSeek's byte-level BPE, good enough to make usage numbers behave like the real
 * ones: a GPT-style pre-tokenizer (special tokens, words with their leading space, 1-3 digit groups,
 * punctuation runs, whitespace) followed by fixed-size splitting of each piece. Common English words are
 * one token, long words several; CJK runs come out at 3 tokens per 5 characters (DeepSeek documents
 * ≈0.6 token per Chinese character), and concatenating the pieces always gives back the input.
 */

const PRE_TOKEN = new RegExp(
  [
    "<｜[^｜\\n]{1,48}｜>|<\\/?think>", // special tokens of the chat template
    " ?[\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}]+",
    " ?[A-Za-z]+",
    " ?[\\p{L}\\p{M}]+",
    "\\p{N}{1,3}",
    " ?[^\\s\\p{L}\\p{N}]+",
    "\\s*[\\r\\n]+",
    "\\s+(?!\\S)",
    "\\s+",
  ].join("|"),
  "gu",
);

const CJK = /^ ?[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const ASCII_WORD = /^ ?[A-Za-z]/;
const OTHER_WORD = /^ ?[\p{L}\p{M}]/u;
const CJK_CYCLE = [2, 2, 1] as const;

/** Splits `piece` by code points: `first` for the first chunk, `rest` after that. */
function emitChunks(piece: string, first: number, rest: number, emit: (t: string) => void): void {
  if (piece.length <= first && !/[\uD800-\uDFFF]/.test(piece)) {
    emit(piece);
    return;
  }
  const points = Array.from(piece);
  let i = 0;
  let size = first;
  while (i < points.length) {
    emit(points.slice(i, i + size).join(""));
    i += size;
    size = rest;
  }
}

/** A leading space rides on the first piece, as BPE merges it with the following character. */
function emitCjk(run: string, emit: (t: string) => void): void {
  const points = Array.from(run);
  for (let i = 0, k = 0; i < points.length; k++) {
    const size = (CJK_CYCLE[k % CJK_CYCLE.length] ?? 1) + (i === 0 && points[0] === " " ? 1 : 0);
    emit(points.slice(i, i + size).join(""));
    i += size;
  }
}

function scan(text: string, emit: (t: string) => void): void {
  for (const match of text.matchAll(PRE_TOKEN)) {
    const piece = match[0];
    if (piece.startsWith("<｜") || piece === "<think>" || piece === "</think>") emit(piece);
    else if (CJK.test(piece)) emitCjk(piece, emit);
    else if (ASCII_WORD.test(piece)) emitChunks(piece, piece.startsWith(" ") ? 7 : 6, 4, emit);
    else if (OTHER_WORD.test(piece)) emitChunks(piece, piece.startsWith(" ") ? 4 : 3, 3, emit);
    else if (/^\p{N}/u.test(piece)) emit(piece);
    else if (/^\s/.test(piece) && !/^ [^\s]/.test(piece)) emitChunks(piece, 4, 4, emit);
    else emitChunks(piece, piece.startsWith(" ") ? 3 : 2, 2, emit);
  }
}

/** The token pieces of `text`; `tokenize(t).join("") === t`. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  scan(text, (t) => out.push(t));
  return out;
}

/** Number of tokens in `text` (same as `tokenize(text).length`, without allocating the pieces). */
export function countTokens(text: string): number {
  let n = 0;
  scan(text, () => {
    n++;
  });
  return n;
}
