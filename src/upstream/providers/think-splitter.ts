/**
 * Splits text that carries reasoning inline as `<think>…</think>` (self-hosted R1, Fireworks) into
 * DeepSeek's separate `reasoning_content` and `content`, across chunk boundaries: a tag cut in two
 * by the stream is held back until the next chunk completes or refutes it.
 */
export class ThinkSplitter {
  private inThink = false;
  private carry = "";

  split(text: string): { content: string; reasoning: string } {
    let input = this.carry + text;
    this.carry = "";
    let content = "";
    let reasoning = "";
    while (input !== "") {
      const tag = this.inThink ? "</think>" : "<think>";
      const at = input.indexOf(tag);
      if (at === -1) {
        const keep = partialTagLength(input, tag);
        const emit = input.slice(0, input.length - keep);
        this.carry = input.slice(input.length - keep);
        if (this.inThink) reasoning += emit;
        else content += emit;
        break;
      }
      if (this.inThink) reasoning += input.slice(0, at);
      else content += input.slice(0, at);
      this.inThink = !this.inThink;
      input = input.slice(at + tag.length);
    }
    return { content, reasoning };
  }

  /** Whatever is held back, at the end of the stream. */
  flush(): { content: string; reasoning: string } {
    const rest = this.carry;
    this.carry = "";
    return this.inThink ? { content: "", reasoning: rest } : { content: rest, reasoning: "" };
  }
}

/** The length of the longest proper prefix of `tag` that `text` ends with. */
function partialTagLength(text: string, tag: string): number {
  for (let length = Math.min(tag.length - 1, text.length); length > 0; length--) {
    if (text.endsWith(tag.slice(0, length))) return length;
  }
  return 0;
}
