/**
 * A fast prompt-token estimate, from DeepSeek's own rule of thumb (about 0.3 token per English
 * character, 0.6 per Chinese character) with a little per-message framing. One pass over the
 * characters, no allocation; its error against the simulator's tokenizer is measured in
 * `npm run bench -- classify` and stated in docs/ARCHITECTURE.md.
 */
export function estimateTextTokens(text: string): number {
  let ascii = 0;
  let cjk = 0;
  let other = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) ascii++;
    else if (
      (code >= 0x3000 && code <= 0x9fff) ||
      (code >= 0xac00 && code <= 0xd7af) ||
      (code >= 0xff00 && code <= 0xffef)
    )
      cjk++;
    else other++;
  }
  return ascii * 0.3 + cjk * 0.6 + other * 0.4;
}

/** Tokens charged for an image part; DeepSeek does not publish it, so this is a planning figure. */
export const IMAGE_TOKENS = 576;
export const MESSAGE_OVERHEAD_TOKENS = 4;
